//! `capecontrol-admin --table NAME --region REGION --email EMAIL`, the password in the
//! `ADMIN_PASSWORD` environment variable (an argument would show in the process list).
//! Credentials come from the usual AWS chain. `make admin` runs it against the local stack
//! or, given TABLE and REGION, a deployed one. An `AWS_ENDPOINT_URL` is accepted only on the
//! loopback address (the local emulator).

use anyhow::{bail, Context};
use capecontrol_admin::{grant, Outcome, Target};
use capecontrol_shared::email::Email;
use capecontrol_shared::password::Hasher;

#[derive(Debug)]
struct Args {
    table: String,
    region: String,
    email: Email,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> anyhow::Result<Args> {
    let (mut table, mut region, mut email) = (None, None, None);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--table" => table = Some(value),
            "--region" => region = Some(value),
            "--email" => email = Some(value),
            other => bail!("unknown argument {other}"),
        }
    }
    let usage = "usage: capecontrol-admin --table NAME --region REGION --email EMAIL";
    let email = email.context(usage)?;
    Ok(Args {
        table: table.filter(|t| !t.is_empty()).context(usage)?,
        region: region.filter(|r| !r.is_empty()).context(usage)?,
        email: Email::parse(&email).map_err(|_| anyhow::anyhow!("not an email: {email}"))?,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args(std::env::args().skip(1))?;
    let password = std::env::var("ADMIN_PASSWORD").context("ADMIN_PASSWORD is not set")?;
    if let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL") {
        if !endpoint.starts_with("http://127.0.0.1:") {
            bail!("AWS_ENDPOINT_URL may only point at the local emulator, not {endpoint}");
        }
    }
    let retention_days = match std::env::var("AUDIT_RETENTION_DAYS") {
        Ok(days) => days.parse().context("AUDIT_RETENTION_DAYS")?,
        Err(_) => 365,
    };
    let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(capecontrol_shared::state::https_client())
        .region(aws_config::Region::new(args.region.clone()))
        .load()
        .await;
    let dynamo = aws_sdk_dynamodb::Client::new(&aws);
    let target = Target {
        dynamo: &dynamo,
        table: &args.table,
        hasher: &Hasher::owasp(),
        audit_retention: time::Duration::days(retention_days),
    };
    let outcome = grant(&target, &args.email, &password).await?;
    let message = match outcome {
        Outcome::Created(id) => format!("created admin {} ({id})", args.email),
        Outcome::Promoted(id) => format!("promoted {} ({id}) to admin", args.email),
        Outcome::AlreadyAdmin(id) => format!("{} ({id}) is already an admin", args.email),
    };
    eprintln!("capecontrol-admin: {message} in table {}", args.table);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> anyhow::Result<Args> {
        parse_args(list.iter().map(|s| (*s).to_owned()))
    }

    #[test]
    fn table_region_and_email_are_all_required() {
        let parsed = args(&["--table", "t", "--region", "eu-west-1", "--email", "A@x.io"]);
        let parsed = parsed.expect("args");
        assert_eq!(
            (parsed.table.as_str(), parsed.region.as_str()),
            ("t", "eu-west-1")
        );
        assert_eq!(parsed.email.as_str(), "a@x.io");
        assert!(args(&["--table", "t", "--email", "a@x.io"]).is_err());
        assert!(args(&["--table", "t", "--region", "r", "--email", "nope"]).is_err());
        assert!(args(&["--table", "t", "--region", "r", "--email", "a@x.io", "--x", "1"]).is_err());
        assert!(args(&["--table"]).is_err());
    }
}
