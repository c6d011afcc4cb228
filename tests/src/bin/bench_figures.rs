#![allow(clippy::print_stdout)] // a benchmark reports on stdout
//! Figures of `make bench` that come from inside the process. Prints, asserts nothing timed.
//!
//! `bench_figures costs`: DynamoDB round trips of each operation, counted on the wire by
//! `infra/count_proxy.py` (which `AWS_ENDPOINT_URL` must name), and the capacity units each
//! costs, computed from the items before and after it (`capecontrol_tests::capacity`).
//!
//! `bench_figures crypto`: argon2id hash and verify at the configured parameters beside the
//! reference C implementation (the `argon2` command) at the parameters read back from the
//! hash, and HS256 access-token signing and verification.

use anyhow::{bail, Context};
use capecontrol_shared::clock;
use capecontrol_shared::config::Settings;
use capecontrol_shared::jwt::{Subject, TokenPolicy};
use capecontrol_shared::keyring::SigningKey;
use capecontrol_shared::password::{Hasher, Password};
use capecontrol_shared::store::users::{Role, UserId};
use capecontrol_tests::call::{self, post_to};
use capecontrol_tests::capacity::{self, Index, Snapshot};
use capecontrol_tests::earnings::{open_agent, payout, sale, seed_user, send};
use capecontrol_tests::{
    body_json, mails_to, registration, token, unique_email, Handler, TestStack, STRONG_PASSWORD,
};
use serde_json::{json, Map, Value};
use std::future::Future;
use std::process::Command;
use std::time::{Duration, Instant};

const HASH_ROUNDS: usize = 20;
const JWT_ROUNDS: u32 = 2000;
const NEW_PASSWORD: &str = "seven quiet herons cross the dam at dawn";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match std::env::args().nth(1).as_deref() {
        Some("costs") => costs().await,
        Some("crypto") => crypto().await,
        _ => bail!("usage: bench_figures costs|crypto"),
    }
}

/// One recorded DynamoDB call.
#[derive(Debug)]
struct Call {
    operation: String,
    request: Value,
    response: Value,
}

/// The proxy's record of calls.
#[derive(Debug)]
struct Wire {
    url: String,
}

impl Wire {
    async fn take(&self) -> anyhow::Result<Vec<Call>> {
        let log: Value = reqwest::get(&self.url)
            .await
            .context("read the proxy's log")?
            .json()
            .await
            .context("parse the proxy's log")?;
        let calls = log["calls"].as_array().cloned().unwrap_or_default();
        Ok(calls
            .into_iter()
            .map(|call| Call {
                operation: call["operation"].as_str().unwrap_or_default().to_owned(),
                request: call["request"].clone(),
                response: call["response"].clone(),
            })
            .collect())
    }

    /// Every item of the table, read through the proxy (and left out of the next count).
    async fn snapshot(&self, stack: &TestStack) -> anyhow::Result<Snapshot> {
        stack.all_items().await?;
        let mut items = Snapshot::new();
        for call in self.take().await? {
            for item in call.response["Items"].as_array().into_iter().flatten() {
                let item = item.as_object().cloned().unwrap_or_default();
                if let Some(key) = capacity::key_of(&item) {
                    items.insert(key, item);
                }
            }
        }
        Ok(items)
    }
}

/// What one operation cost.
#[derive(Debug)]
struct Row {
    name: &'static str,
    calls: Vec<String>,
    read_units: f64,
    write_units: f64,
    index_units: f64,
}

/// What one operation is measured with.
#[derive(Debug)]
struct Bench<'a> {
    wire: &'a Wire,
    stack: &'a TestStack,
    indexes: &'a [Index],
}

impl Bench<'_> {
    async fn measure<F>(&self, name: &'static str, operation: F) -> anyhow::Result<Row>
    where
        F: Future<Output = anyhow::Result<()>>,
    {
        let before = self.wire.snapshot(self.stack).await?;
        operation.await.with_context(|| name.to_owned())?;
        let calls = self.wire.take().await?;
        let after = self.wire.snapshot(self.stack).await?;
        let mut row = Row {
            name,
            calls: Vec::new(),
            read_units: 0.0,
            write_units: 0.0,
            index_units: 0.0,
        };
        for call in &calls {
            row.calls.push(call.operation.clone());
            cost(call, &before, &after, self.indexes, &mut row);
        }
        Ok(row)
    }
}

fn cost(call: &Call, before: &Snapshot, after: &Snapshot, indexes: &[Index], row: &mut Row) {
    let (request, response) = (&call.request, &call.response);
    let consistent = request["ConsistentRead"] == true;
    let object = |value: &Value| value.as_object().cloned().unwrap_or_default();
    let mut write = |key_source: &Value, transactional: bool, indexed: bool| {
        let Some(key) = capacity::key_of(&object(key_source)) else {
            return;
        };
        let (old, new) = (before.get(&key), after.get(&key));
        let size = old.into_iter().chain(new).map(capacity::item_size).max();
        row.write_units += capacity::write_units(size.unwrap_or(0), transactional);
        if indexed {
            row.index_units += indexes.iter().map(|i| i.write_units(old, new)).sum::<f64>();
        }
    };
    match call.operation.as_str() {
        "PutItem" => write(&request["Item"], false, true),
        "UpdateItem" | "DeleteItem" => write(&request["Key"], false, true),
        "TransactWriteItems" => {
            for action in request["TransactItems"].as_array().into_iter().flatten() {
                if let Some(put) = action.get("Put") {
                    write(&put["Item"], true, true);
                } else if let Some(check) = action.get("ConditionCheck") {
                    write(&check["Key"], true, false);
                } else if let Some(change) = action.get("Update").or(action.get("Delete")) {
                    write(&change["Key"], true, true);
                }
            }
        }
        "GetItem" => {
            let size = response
                .get("Item")
                .map(|i| capacity::item_size(&object(i)));
            row.read_units += capacity::read_units(size.unwrap_or(0), consistent, false);
        }
        "BatchGetItem" => row.read_units += batch_get_units(request, response),
        "Query" | "Scan" => {
            let items = response["Items"].as_array().into_iter().flatten();
            let size = items.map(|i| capacity::item_size(&object(i))).sum();
            row.read_units += capacity::read_units(size, consistent, false);
        }
        "TransactGetItems" => {
            for answer in response["Responses"].as_array().into_iter().flatten() {
                let size = answer.get("Item").map(|i| capacity::item_size(&object(i)));
                row.read_units += capacity::read_units(size.unwrap_or(0), true, true);
            }
        }
        _ => {}
    }
}

/// Each requested key is a read of its own, found or not.
fn batch_get_units(request: &Value, response: &Value) -> f64 {
    let mut units = 0.0;
    let tables = request["RequestItems"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    for (table, spec) in tables {
        let consistent = spec["ConsistentRead"] == true;
        let found: Vec<Map<String, Value>> = response["Responses"][&table]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| item.as_object().cloned())
            .collect();
        for key in spec["Keys"].as_array().into_iter().flatten() {
            let wanted = key.as_object().and_then(capacity::key_of);
            let size = found
                .iter()
                .find(|item| capacity::key_of(item) == wanted)
                .map(capacity::item_size);
            units += capacity::read_units(size.unwrap_or(0), consistent, false);
        }
    }
    units
}

fn expect(response: &lambda_http::Response<lambda_http::Body>, status: u16) -> anyhow::Result<()> {
    if response.status().as_u16() != status {
        bail!("answered {} {}", response.status(), body_json(response));
    }
    Ok(())
}

async fn last_mail_token(email: &str) -> anyhow::Result<String> {
    let mails = mails_to(email).await?;
    mails
        .last()
        .and_then(|mail| mail.token())
        .context("no token in the last mail")
}

async fn costs() -> anyhow::Result<()> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").context("AWS_ENDPOINT_URL")?;
    let wire = Wire {
        url: format!("{endpoint}/_bench/log"),
    };
    let definition_file =
        std::env::var("TABLE_DEFINITION_FILE").context("TABLE_DEFINITION_FILE")?;
    let definition: Value = serde_json::from_str(&std::fs::read_to_string(definition_file)?)?;
    let indexes = Index::from_definition(&definition);
    let stack = TestStack::new().await?;
    let state = &stack.state;
    let bench = Bench {
        wire: &wire,
        stack: &stack,
        indexes: &indexes,
    };
    let email = unique_email("bench-costs");
    let mut rows = Vec::new();

    rows.push(
        bench
            .measure("register", async {
                expect(&call::register(state, &registration(&email)).await, 202)
            })
            .await?,
    );
    let mut pair = Value::Null;
    rows.push(
        bench
            .measure("login", async {
                let response = call::login(state, &email, STRONG_PASSWORD).await;
                pair = body_json(&response);
                expect(&response, 200)
            })
            .await?,
    );
    let mut refreshed = Value::Null;
    rows.push(
        bench
            .measure("refresh", async {
                let response = call::refresh(state, &token(&pair, "refresh_token")).await;
                refreshed = body_json(&response);
                expect(&response, 200)
            })
            .await?,
    );
    let refresh_token = token(&refreshed, "refresh_token");
    rows.push(
        bench
            .measure("logout", async {
                expect(&call::logout(state, &refresh_token).await, 204)
            })
            .await?,
    );
    rows.push(
        bench
            .measure("reset request", async {
                let body = json!({ "email": email });
                let path = "/auth/password-reset";
                expect(&post_to(Handler::Reset, state, path, &body).await, 202)
            })
            .await?,
    );
    let reset_token = last_mail_token(&email).await?;
    rows.push(
        bench
            .measure("reset confirm", async {
                let body = json!({ "token": reset_token, "new_password": NEW_PASSWORD });
                let path = "/auth/password-reset/confirm";
                expect(&post_to(Handler::Reset, state, path, &body).await, 204)
            })
            .await?,
    );

    let admin = seed_user(state, Role::Admin, true).await;
    let developer = seed_user(state, Role::Developer, true).await;
    open_agent(state, &developer, "bench-agent").await;
    let postings = [
        (
            "sale",
            "/earnings/sales",
            sale(&developer.id, "bench-agent", "s-1", "25.00"),
        ),
        (
            "payout",
            "/earnings/payouts",
            payout(&developer.id, "bench-agent", "p-1", "5.00"),
        ),
    ];
    for (name, path, body) in postings {
        let posted = posting(state, &admin.token, path, body);
        rows.push(bench.measure(name, posted).await?);
    }
    print_costs(&rows);
    Ok(())
}

async fn posting(
    state: &capecontrol_shared::state::AppState,
    admin_token: &str,
    path: &str,
    body: Value,
) -> anyhow::Result<()> {
    let (status, answer) = send(state, "POST", path, Some(&body), admin_token).await;
    if status != 201 {
        bail!("answered {status} {answer}");
    }
    Ok(())
}

fn print_costs(rows: &[Row]) {
    println!("DynamoDB per operation (happy path; round trips on the wire, units computed)");
    println!(
        "{:<15}{:>6}{:>8}{:>8}{:>10}   calls",
        "operation", "trips", "RCU", "WCU", "GSI WCU"
    );
    for row in rows {
        println!(
            "{:<15}{:>6}{:>8.1}{:>8.1}{:>10.1}   {}",
            row.name,
            row.calls.len(),
            row.read_units,
            row.write_units,
            row.index_units,
            row.calls.join(", ")
        );
    }
    println!("(transactions at 2 units per item, ConditionCheck counted as a transactional write)");
}

async fn crypto() -> anyhow::Result<()> {
    let hasher = Hasher::owasp();
    let password = || Password::from_attempt(STRONG_PASSWORD).context("password");
    let mut hashes = Vec::new();
    let mut verifies = Vec::new();
    let mut phc = None;
    for _ in 0..HASH_ROUNDS {
        let started = Instant::now();
        let hashed = hasher.hash(password()?).await?;
        hashes.push(started.elapsed());
        let started = Instant::now();
        let matched = hasher.verify(password()?, hashed.clone()).await?;
        verifies.push(started.elapsed());
        if !matched {
            bail!("a fresh hash did not verify");
        }
        phc = Some(hashed);
    }
    let phc = phc.context("no hash")?;
    let params = phc_params(phc.expose()).context("parameters of the hash")?;
    let reference = reference_hashes(&params)?;
    let (hash, verify, c_hash) = (
        median(&mut hashes),
        median(&mut verifies),
        median_of(reference),
    );
    println!("argon2id at {params} (median of {HASH_ROUNDS})");
    println!(
        "  Rust argon2 hash    {:8.2} ms   {:.2}x the C reference",
        ms(hash),
        ratio(hash, c_hash)
    );
    println!(
        "  Rust argon2 verify  {:8.2} ms   {:.2}x the C reference",
        ms(verify),
        ratio(verify, c_hash)
    );
    println!(
        "  C reference hash    {:8.2} ms   (argon2 command, its own timer; verify is one hash)",
        ms(c_hash)
    );
    jwt()
}

/// "m=19456,t=2,p=1" from a PHC string.
fn phc_params(phc: &str) -> Option<String> {
    phc.split('$')
        .find(|part| part.starts_with("m="))
        .map(str::to_owned)
}

fn reference_hashes(params: &str) -> anyhow::Result<Vec<Duration>> {
    let value = |name: &str| {
        params
            .split(',')
            .find_map(|pair| pair.strip_prefix(name))
            .context("parameter missing")
    };
    let (memory, passes, lanes) = (value("m=")?, value("t=")?, value("p=")?);
    let mut samples = Vec::new();
    for _ in 0..HASH_ROUNDS {
        let mut child = Command::new("argon2")
            .args([
                "benchsaltbenchsalt",
                "-id",
                "-k",
                memory,
                "-t",
                passes,
                "-p",
                lanes,
            ])
            .args(["-l", "32"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .context("run the argon2 command (Debian package argon2)")?;
        if let Some(mut stdin) = child.stdin.take() {
            std::io::Write::write_all(&mut stdin, STRONG_PASSWORD.as_bytes())?;
        }
        let output = child.wait_with_output()?;
        let text = String::from_utf8_lossy(&output.stdout);
        let seconds = text
            .lines()
            .find_map(|line| line.strip_suffix(" seconds"))
            .and_then(|s| s.trim().parse::<f64>().ok())
            .context("no timing in the argon2 command's output")?;
        samples.push(Duration::from_secs_f64(seconds));
    }
    Ok(samples)
}

fn jwt() -> anyhow::Result<()> {
    let settings = Settings::from_lookup(|name| match name {
        "TABLE_NAME" | "SIGNING_SECRET_ARN" => Some("unused".to_owned()),
        _ => None,
    })?;
    let stack_policy = TokenPolicy {
        issuer: settings.jwt_issuer,
        audience: settings.jwt_audience,
        lifetime: settings.access_token_ttl,
    };
    let key = SigningKey::new("bench-kid", vec![7; 32])?;
    let subject = Subject {
        user: UserId::generate(),
        role: Role::Developer,
        session: uuid::Uuid::new_v4().to_string(),
        token_version: 0,
        email_verified: true,
    };
    let started = Instant::now();
    let mut last = String::new();
    for _ in 0..JWT_ROUNDS {
        last = stack_policy.issue(&subject, &key, clock::now())?.0;
    }
    let sign = started.elapsed() / JWT_ROUNDS;
    let started = Instant::now();
    for _ in 0..JWT_ROUNDS {
        if stack_policy.verify_with(&last, &key).is_err() {
            bail!("a fresh token did not verify");
        }
    }
    let verify = started.elapsed() / JWT_ROUNDS;
    println!("JWT HS256 access token (mean of {JWT_ROUNDS})");
    println!("  sign    {:8.2} µs", sign.as_secs_f64() * 1e6);
    println!("  verify  {:8.2} µs", verify.as_secs_f64() * 1e6);
    Ok(())
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

fn median_of(mut samples: Vec<Duration>) -> Duration {
    median(&mut samples)
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}
