#!/usr/bin/env python3
"""Consistency checks between template.yaml and the local tooling.

Fails (exit 1) when:
* the CreateTable input derived from the template lacks the expected shape;
* the HTTP routes differ from the documented API;
* a function's environment misses a variable, or the local stack
  (infra/lib.sh) would not provide one the template gives the functions;
* an IAM statement uses a wildcard action or resource, or a function gets
  table actions beyond its documented set.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cfn_yaml import load_template, resources_of_type  # noqa: E402
from routes import load_routes  # noqa: E402
from table_definition import build_definition  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

EXPECTED_ROUTES = {
    ("POST", "/auth/register", "register"),
    ("POST", "/auth/login", "login"),
    ("POST", "/auth/refresh", "refresh"),
    ("POST", "/auth/logout", "refresh"),
    ("POST", "/auth/logout-all", "refresh"),
    ("POST", "/auth/password-reset", "reset"),
    ("POST", "/auth/password-reset/confirm", "reset"),
    ("POST", "/auth/password/change", "reset"),
    ("POST", "/auth/verify-email", "verify"),
    ("POST", "/auth/verify-email/resend", "verify"),
    ("GET", "/earnings", "earnings"),
    ("GET", "/earnings/{agent_id}", "earnings"),
    ("PATCH", "/earnings/{agent_id}", "earnings"),
    ("POST", "/earnings/agents", "earnings"),
    ("POST", "/earnings/sales", "earnings"),
    ("POST", "/earnings/payouts", "earnings"),
    ("GET", "/users/me", "account"),
    ("PATCH", "/users/me", "account"),
    ("DELETE", "/users/me", "account"),
    ("GET", "/users/me/export", "account"),
    ("GET", "/auth/sessions", "account"),
    ("DELETE", "/auth/sessions/{id}", "account"),
    ("GET", "/admin/users", "admin"),
    ("PATCH", "/admin/users/{id}", "admin"),
    ("GET", "/admin/audit", "admin"),
}
EXPECTED_ENV = {
    "TABLE_NAME", "SIGNING_SECRET_ARN", "JWT_ISSUER", "JWT_AUDIENCE",
    "ACCESS_TOKEN_TTL_SECONDS", "REFRESH_IDLE_TTL_SECONDS",
    "REFRESH_ABSOLUTE_TTL_SECONDS", "REFRESH_GRACE_SECONDS",
    "AUDIT_RETENTION_DAYS", "FINANCIAL_RETENTION_DAYS", "MAIL_SENDER", "LINK_BASE_URL",
    "VERIFY_TOKEN_TTL_SECONDS",
    "RESET_TOKEN_TTL_SECONDS", "ENUMERATION_SAFE_REGISTRATION", "ALLOW_UNVERIFIED_LOGIN",
    "LOGIN_THROTTLE_FREE_FAILURES", "LOGIN_THROTTLE_BASE_SECONDS", "LOGIN_THROTTLE_MAX_SECONDS",
    "LOGIN_LOCKOUT_FAILURES", "LOGIN_FAILURE_MEMORY_SECONDS",
    "RATE_LIMIT_EMAIL_MAX", "RATE_LIMIT_EMAIL_WINDOW_SECONDS",
    "RATE_LIMIT_IP_MAX", "RATE_LIMIT_IP_WINDOW_SECONDS",
    "RUST_LOG", "MALLOC_MMAP_THRESHOLD_", "SSL_CERT_FILE",
}
TABLE_ACTIONS = {
    "RegisterFunction": {"TransactWriteItems", "PutItem", "ConditionCheckItem", "UpdateItem",
                         "DeleteItem"},
    "LoginFunction": {"BatchGetItem", "PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems",
                      "ConditionCheckItem"},
    "RefreshFunction": {"GetItem", "PutItem", "UpdateItem", "TransactWriteItems",
                        "ConditionCheckItem", "Query"},
    "ResetFunction": {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems",
                      "ConditionCheckItem", "Query"},
    "VerifyFunction": {"GetItem", "PutItem", "UpdateItem", "TransactWriteItems",
                       "ConditionCheckItem"},
    "EarningsFunction": {"GetItem", "Query", "PutItem", "TransactWriteItems"},
    "AdminFunction": {"GetItem", "Query", "PutItem", "UpdateItem", "ConditionCheckItem",
                      "TransactWriteItems"},
    "AccountFunction": {"GetItem", "BatchGetItem", "Query", "PutItem", "UpdateItem", "DeleteItem",
                        "TransactWriteItems"},
    "PurgeFunction": {"GetItem", "BatchGetItem", "Query", "PutItem", "UpdateItem", "DeleteItem",
                      "TransactWriteItems"},
}
# Functions that may Query indexes, and exactly which (every other function's statements name
# the table only).
INDEX_QUERIES = {
    "AdminFunction": {"gsi1", "gsi2", "gsi3"},
    "AccountFunction": {"gsi1"},
    "PurgeFunction": {"gsi1"},
}
# Functions invoked by a schedule rather than by HTTP routes.
SCHEDULED = {"PurgeFunction": "rate(15 minutes)"}


def index_resources(function: dict) -> set[str]:
    """The table indexes a function's statements name (`${AuthTable.Arn}/index/<name>`), and
    fails on a statement that grants anything but Query on one."""
    found: set[str] = set()
    for pol in function["Properties"].get("Policies") or []:
        for st in (pol.get("Statement") if isinstance(pol, dict) else None) or []:
            resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
            for r in resources:
                text = r.get("Fn::Sub") if isinstance(r, dict) else r
                if not isinstance(text, str):
                    continue
                match = re.fullmatch(r"\$\{AuthTable\.Arn\}/index/(\w+)", text)
                if match:
                    if st["Action"] != ["dynamodb:Query"]:
                        found.add(f"{match.group(1)} (not Query only)")
                    else:
                        found.add(match.group(1))
    return found


def main() -> int:
    errors: list[str] = []
    template = load_template(ROOT / "template.yaml")

    # -- table
    d = build_definition(template, None)
    if set(d) != {"AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode"}:
        errors.append(f"table definition keys: {sorted(d)}")
    if {g["IndexName"] for g in d.get("GlobalSecondaryIndexes", [])} != {"gsi1", "gsi2", "gsi3"}:
        errors.append("table must have exactly gsi1, gsi2, gsi3")
    for g in d.get("GlobalSecondaryIndexes", []):
        if g["Projection"]["ProjectionType"] != "ALL":
            errors.append(f"{g['IndexName']}: projection must be ALL")

    # -- routes
    got = {(r.method, r.path, r.binary) for r in load_routes(ROOT / "template.yaml")}
    if got != EXPECTED_ROUTES:
        errors.append(f"routes differ: missing {sorted(EXPECTED_ROUTES - got)}, "
                      f"extra {sorted(got - EXPECTED_ROUTES)}")

    # -- environment
    globals_env = set(((template.get("Globals") or {}).get("Function") or {})
                      .get("Environment", {}).get("Variables", {}))
    functions = resources_of_type(template, "AWS::Serverless::Function")
    lib_sh = (ROOT / "infra" / "lib.sh").read_text(encoding="utf-8")
    local_env = set(re.findall(r"export ([A-Z_]+)=", lib_sh)) | {"TABLE_NAME", "SIGNING_SECRET_ARN"}
    for name, res in functions.items():
        env = globals_env | set(((res["Properties"].get("Environment") or {})
                                 .get("Variables") or {}))
        if EXPECTED_ENV - env:
            errors.append(f"{name}: environment lacks {sorted(EXPECTED_ENV - env)}")
        if env - local_env:
            errors.append(f"{name}: infra/lib.sh does not provide {sorted(env - local_env)} locally")

    # -- IAM
    for name, res in functions.items():
        table_actions: set[str] = set()
        for pol in res["Properties"].get("Policies") or []:
            if not isinstance(pol, dict) or "Statement" not in pol:
                errors.append(f"{name}: only inline policy documents are allowed")
                continue
            for st in pol["Statement"]:
                actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
                resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
                for a in actions:
                    if "*" in a:
                        errors.append(f"{name}: wildcard action {a}")
                    if a.startswith("dynamodb:"):
                        table_actions.add(a.split(":", 1)[1])
                for r in resources:
                    if r == "*":
                        errors.append(f"{name}: wildcard resource")
        indexes = index_resources(res)
        if indexes != INDEX_QUERIES.get(name, set()):
            errors.append(f"{name}: index resources {sorted(indexes)}, expected "
                          f"{sorted(INDEX_QUERIES.get(name, set()))}")
        want = TABLE_ACTIONS.get(name)
        if want is not None and table_actions != want:
            errors.append(f"{name}: table actions {sorted(table_actions)}, expected {sorted(want)}")

    # -- schedules
    for name, res in functions.items():
        schedules = {ev.get("Properties", {}).get("Schedule")
                     for ev in (res["Properties"].get("Events") or {}).values()
                     if ev.get("Type") == "Schedule"}
        want = {SCHEDULED[name]} if name in SCHEDULED else set()
        if schedules != want:
            errors.append(f"{name}: schedules {sorted(map(str, schedules))}, "
                          f"expected {sorted(want)}")

    for e in errors:
        print(f"check_infra: {e}", file=sys.stderr)
    if not errors:
        print(f"check_infra: ok ({len(got)} routes, {len(functions)} functions)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
