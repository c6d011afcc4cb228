#!/usr/bin/env python3
"""Emit the DynamoDB CreateTable input of the template's table as JSON.

The Rust tests and the local stacks create their tables from this file, so
that local and deployed tables can never drift apart: template.yaml is the
one source of truth.

    python infra/table_definition.py [--template template.yaml]
        [--resource AuthTable] [--table-name NAME] [--out target/table-definition.json]

Without --table-name the output has exactly the keys AttributeDefinitions,
KeySchema, GlobalSecondaryIndexes and BillingMode (callers add TableName).
With it, TableName is included too. --out - writes to stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cfn_yaml import load_template, resources_of_type  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def _plain(value: Any, where: str) -> Any:
    """Reject intrinsic functions: the table's key schema must be literal."""
    if isinstance(value, dict) and len(value) == 1:
        (key,) = value
        if key == "Ref" or key.startswith("Fn::"):
            raise ValueError(f"{where}: intrinsic {key} is not supported in the table schema")
    return value


def _key_schema(items: list[dict], where: str) -> list[dict[str, str]]:
    return [
        {"AttributeName": _plain(k["AttributeName"], where), "KeyType": _plain(k["KeyType"], where)}
        for k in items
    ]


def _projection(proj: dict, where: str) -> dict[str, Any]:
    out: dict[str, Any] = {"ProjectionType": _plain(proj.get("ProjectionType", "ALL"), where)}
    if proj.get("NonKeyAttributes"):
        out["NonKeyAttributes"] = list(proj["NonKeyAttributes"])
    return out


def build_definition(template: dict[str, Any], resource: str | None) -> dict[str, Any]:
    tables = resources_of_type(template, "AWS::DynamoDB::Table")
    if resource is None:
        if len(tables) != 1:
            raise ValueError(f"expected exactly one AWS::DynamoDB::Table, found {sorted(tables)}")
        resource = next(iter(tables))
    if resource not in tables:
        raise ValueError(f"no AWS::DynamoDB::Table named {resource!r}")
    props = tables[resource]["Properties"]
    where = f"Resources.{resource}"

    billing = _plain(props.get("BillingMode", "PROVISIONED"), where)
    if billing != "PAY_PER_REQUEST":
        raise ValueError(f"{where}: BillingMode {billing!r}; only PAY_PER_REQUEST is supported")

    definition: dict[str, Any] = {
        "AttributeDefinitions": [
            {"AttributeName": _plain(a["AttributeName"], where),
             "AttributeType": _plain(a["AttributeType"], where)}
            for a in props["AttributeDefinitions"]
        ],
        "KeySchema": _key_schema(props["KeySchema"], where),
        "GlobalSecondaryIndexes": [
            {
                "IndexName": _plain(g["IndexName"], where),
                "KeySchema": _key_schema(g["KeySchema"], f"{where}.{g['IndexName']}"),
                "Projection": _projection(g.get("Projection", {}), f"{where}.{g['IndexName']}"),
            }
            for g in props.get("GlobalSecondaryIndexes", [])
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if not definition["GlobalSecondaryIndexes"]:
        del definition["GlobalSecondaryIndexes"]
    return definition


def ttl_attribute(template: dict[str, Any], resource: str | None = None) -> str | None:
    tables = resources_of_type(template, "AWS::DynamoDB::Table")
    name = resource or next(iter(tables))
    spec = tables[name]["Properties"].get("TimeToLiveSpecification") or {}
    return spec.get("AttributeName") if spec.get("Enabled") else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Emit CreateTable input from template.yaml")
    parser.add_argument("--template", default=str(ROOT / "template.yaml"))
    parser.add_argument("--resource", help="logical id of the table (default: the only one)")
    parser.add_argument("--table-name", help="include this TableName in the output")
    parser.add_argument("--out", default=str(ROOT / "target" / "table-definition.json"),
                        help="output file, or - for stdout")
    args = parser.parse_args(argv)

    try:
        definition = build_definition(load_template(args.template), args.resource)
    except (ValueError, KeyError) as exc:
        print(f"table_definition: {exc}", file=sys.stderr)
        return 1
    if args.table_name:
        definition = {"TableName": args.table_name, **definition}
    text = json.dumps(definition, indent=2) + "\n"
    if args.out == "-":
        sys.stdout.write(text)
    else:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(out.suffix + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(out)
        print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
