#!/usr/bin/env python3
"""Create the local (moto) resources of CapeControl Auth, idempotently.

    python infra/setup_local.py --endpoint http://127.0.0.1:5000 \
        --table-name capecontrol-auth --secret-name capecontrol-auth-signing-key \
        [--template template.yaml] [--env-file PATH]

* the DynamoDB table, from the table resource of template.yaml (the same
  CreateTable input that infra/table_definition.py writes), TTL enabled on
  the template's TTL attribute (`ttl`);
* the signing secret: a random 64-character alphanumeric SecretString, like
  the template's GenerateSecretString (PasswordLength 64,
  ExcludePunctuation). An existing secret is kept as it is.

Prints KEY=VALUE lines (TABLE_NAME, SIGNING_SECRET_ARN) on stdout and, with
--env-file, writes them there too. Refuses endpoints that are not loopback:
this script is for local stacks only.
"""

from __future__ import annotations

import argparse
import os
import secrets
import string
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cfn_yaml import load_template  # noqa: E402
from table_definition import build_definition, ttl_attribute  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
KEY_ALPHABET = string.ascii_letters + string.digits
KEY_LENGTH = 64


def generate_key() -> str:
    return "".join(secrets.choice(KEY_ALPHABET) for _ in range(KEY_LENGTH))


def check_endpoint(endpoint: str) -> None:
    host = urlparse(endpoint).hostname
    if host not in LOOPBACK:
        raise SystemExit(f"setup_local: refusing non-loopback endpoint {endpoint!r}")


def clients(endpoint: str, region: str):
    import boto3

    session = boto3.session.Session(
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
        region_name=region,
    )
    return (
        session.client("dynamodb", endpoint_url=endpoint),
        session.client("secretsmanager", endpoint_url=endpoint),
        session.client("sesv2", endpoint_url=endpoint),
    )


def ensure_table(ddb, name: str, definition: dict, ttl_attr: str | None) -> None:
    try:
        ddb.create_table(TableName=name, **definition)
        print(f"created table {name}", file=sys.stderr)
    except ddb.exceptions.ResourceInUseException:
        print(f"table {name} exists", file=sys.stderr)
    for _ in range(100):
        if ddb.describe_table(TableName=name)["Table"]["TableStatus"] == "ACTIVE":
            break
        time.sleep(0.1)
    if ttl_attr:
        current = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        if current.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
            ddb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_attr},
            )
            print(f"enabled TTL on {name}.{ttl_attr}", file=sys.stderr)


def ensure_secret(sm, name: str) -> str:
    try:
        arn = sm.describe_secret(SecretId=name)["ARN"]
        print(f"secret {name} exists", file=sys.stderr)
        return arn
    except sm.exceptions.ResourceNotFoundException:
        pass
    arn = sm.create_secret(
        Name=name,
        Description="CapeControl Auth JWT signing key (local)",
        SecretString=generate_key(),
    )["ARN"]
    print(f"created secret {name}", file=sys.stderr)
    return arn


def ensure_sender(ses, sender: str) -> None:
    """The emulator, like SES, sends only from a verified identity."""
    try:
        ses.create_email_identity(EmailIdentity=sender)
        print(f"created sender identity {sender}", file=sys.stderr)
    except ses.exceptions.AlreadyExistsException:
        print(f"sender identity {sender} exists", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Create local table + signing secret")
    parser.add_argument("--endpoint", default=os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"))
    parser.add_argument("--region", default=os.environ.get("AWS_REGION", "us-east-1"))
    parser.add_argument("--table-name", required=True)
    parser.add_argument("--secret-name", required=True)
    parser.add_argument("--template", default=str(ROOT / "template.yaml"))
    parser.add_argument("--resource", help="logical id of the table (default: the only one)")
    parser.add_argument("--mail-sender",
                        default=os.environ.get("MAIL_SENDER", "no-reply@capecontrol.example"))
    parser.add_argument("--env-file", help="also write the KEY=VALUE lines to this file")
    args = parser.parse_args(argv)

    check_endpoint(args.endpoint)
    template = load_template(args.template)
    definition = build_definition(template, args.resource)
    ddb, sm, ses = clients(args.endpoint, args.region)

    ensure_table(ddb, args.table_name, definition, ttl_attribute(template, args.resource))
    arn = ensure_secret(sm, args.secret_name)
    ensure_sender(ses, args.mail_sender)

    lines = f"TABLE_NAME={args.table_name}\nSIGNING_SECRET_ARN={arn}\n"
    sys.stdout.write(lines)
    if args.env_file:
        Path(args.env_file).parent.mkdir(parents=True, exist_ok=True)
        Path(args.env_file).write_text(lines, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
