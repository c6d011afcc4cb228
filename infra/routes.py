"""The HTTP routes of template.yaml: (method, path) -> function binary.

Read from the SAM functions' `Events` of type HttpApi, and the binary from
each function's `Metadata.BuildProperties.Binary` (what cargo-lambda builds
and `cargo-lambda watch` serves under /lambda-url/<binary>/).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cfn_yaml import load_template, resources_of_type  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TEMPLATE = ROOT / "template.yaml"


@dataclass(frozen=True)
class Route:
    method: str  # upper case, or ANY
    path: str  # as written in the template, e.g. /auth/login or /items/{id}
    function: str  # logical id, e.g. LoginFunction
    binary: str  # cargo bin name, e.g. login

    def pattern(self) -> re.Pattern[str]:
        parts = []
        for seg in self.path.strip("/").split("/"):
            if re.fullmatch(r"\{[^/{}]+\+\}", seg):
                parts.append(".+")  # greedy {proxy+}
            elif re.fullmatch(r"\{[^/{}]+\}", seg):
                parts.append("[^/]+")
            else:
                parts.append(re.escape(seg))
        return re.compile("^/" + "/".join(parts) + "$")


def load_routes(template_path: str | Path = DEFAULT_TEMPLATE) -> list[Route]:
    template = load_template(template_path)
    routes: list[Route] = []
    for name, res in resources_of_type(template, "AWS::Serverless::Function").items():
        binary = (((res.get("Metadata") or {}).get("BuildProperties")) or {}).get("Binary")
        events: dict[str, Any] = (res.get("Properties") or {}).get("Events") or {}
        for ev_name, ev in events.items():
            if ev.get("Type") != "HttpApi":
                continue
            if not binary:
                raise ValueError(f"{name}: HttpApi event {ev_name} but no Metadata.BuildProperties.Binary")
            props = ev.get("Properties") or {}
            path = props.get("Path", "$default")
            method = str(props.get("Method", "ANY")).upper()
            if method == "X-AMAZON-APIGATEWAY-ANY-METHOD":
                method = "ANY"
            routes.append(Route(method, path, name, binary))
    seen: dict[tuple[str, str], Route] = {}
    for r in routes:
        key = (r.method, r.path)
        if key in seen:
            raise ValueError(f"route {r.method} {r.path} defined twice ({seen[key].function}, {r.function})")
        seen[key] = r
    return sorted(routes, key=lambda r: (r.path, r.method))


def match(routes: list[Route], method: str, path: str) -> Route | None:
    """Most specific match first: exact path, then templated, then $default."""
    method = method.upper()
    best: Route | None = None
    best_rank = None
    for r in routes:
        if r.method not in (method, "ANY"):
            continue
        if r.path == "$default":
            rank = (3, 0)
        elif r.path == path:
            rank = (0, 0 if r.method == method else 1)
        elif "{" in r.path and r.pattern().match(path):
            rank = (1 if "+}" not in r.path else 2, -len(r.path))
        else:
            continue
        if best_rank is None or rank < best_rank:
            best, best_rank = r, rank
    return best


def known_path(routes: list[Route], path: str) -> bool:
    return any(r.path == path or ("{" in r.path and r.pattern().match(path)) for r in routes)
