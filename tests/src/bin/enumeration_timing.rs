#![allow(clippy::print_stdout)] // a benchmark reports on stdout
//! Prints how long answers take where timing could tell whether an account exists: password
//! reset requests for a known versus an unknown address, and logins with an unknown email
//! versus a wrong password. In-process handlers on the local emulator; medians of interleaved
//! runs. A benchmark, not a test: it prints figures and asserts nothing.
//!
//! `make bench-timing` runs it (release build, its own emulator).

use capecontrol_tests::call::{self, post_to};
use capecontrol_tests::{unique_email, Handler, TestStack};
use serde_json::json;
use std::time::{Duration, Instant};

const ROUNDS: usize = 30;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Limits off: the figures are of the account-existence paths, not of the limiter (which
    // would answer the known address like an unknown one after three requests).
    let stack = TestStack::with_settings(|s| {
        s.rate_limits.per_email.max = u32::MAX;
        s.rate_limits.per_ip.max = u32::MAX;
        s.login_throttle.free_failures = u32::MAX - 1;
        s.login_throttle.lockout_failures = u32::MAX;
    })
    .await?;
    let known = unique_email("bench-known");
    call::signed_in(&stack.state, &known).await;
    warm_up(&stack, &known).await;

    let mut reset_known = Vec::new();
    let mut reset_unknown = Vec::new();
    let mut login_unknown = Vec::new();
    let mut login_wrong = Vec::new();
    for _ in 0..ROUNDS {
        reset_known.push(time(reset(&stack, &known)).await);
        reset_unknown.push(time(reset(&stack, &unique_email("bench-nobody"))).await);
        login_unknown.push(time(login(&stack, &unique_email("bench-nobody"))).await);
        login_wrong.push(time(login(&stack, &known)).await);
    }
    report("password reset, existing account", &mut reset_known);
    report("password reset, unknown address ", &mut reset_unknown);
    report("login, unknown email            ", &mut login_unknown);
    report("login, wrong password           ", &mut login_wrong);
    Ok(())
}

async fn warm_up(stack: &TestStack, known: &str) {
    for _ in 0..5 {
        reset(stack, known).await;
        reset(stack, &unique_email("bench-warm")).await;
        login(stack, known).await;
    }
}

async fn reset(stack: &TestStack, email: &str) {
    let body = json!({"email": email});
    let response = post_to(Handler::Reset, &stack.state, "/auth/password-reset", &body).await;
    assert_eq!(response.status(), 202);
}

async fn login(stack: &TestStack, email: &str) {
    let response = call::login(&stack.state, email, "not the right password at all").await;
    assert_eq!(response.status(), 401);
}

async fn time(work: impl std::future::Future<Output = ()>) -> Duration {
    let started = Instant::now();
    work.await;
    started.elapsed()
}

fn report(label: &str, samples: &mut [Duration]) {
    samples.sort_unstable();
    let at = |q: f64| {
        let index = ((samples.len() - 1) as f64 * q).round() as usize;
        samples[index].as_secs_f64() * 1000.0
    };
    println!(
        "{label}  median {:7.2} ms   p10 {:7.2} ms   p90 {:7.2} ms   (n={})",
        at(0.5),
        at(0.1),
        at(0.9),
        samples.len()
    );
}
