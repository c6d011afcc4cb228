//! Brute-force throttling of `POST /auth/login` against the emulator: waits after five
//! consecutive failures, doubling up to a cap, refusals before any hash and not counted, the
//! lockout, forgetting, races, and the audit trail of every decision. Waits are configured in
//! fractions of a second here; the defaults are pinned in the shared crate's unit tests.

use aws_sdk_dynamodb::types::AttributeValue;
use capecontrol_shared::clock;
use capecontrol_shared::config::Settings;
use capecontrol_shared::db;
use capecontrol_shared::email::Email;
use capecontrol_shared::store::Item;
use capecontrol_shared::throttle::login::{self, Verdict};
use capecontrol_tests::call::post_to;
use capecontrol_tests::{
    body_json, call, mails_to, registration, string, unique_email, Handler, TestStack,
    STRONG_PASSWORD,
};
use futures::future::join_all;
use serde_json::{json, Value};
use std::time::Duration;

const WRONG: &str = "definitely not the password";

/// Waits of 1 s after the fifth failure, 2 s at most: Retry-After shows the doubling.
fn one_then_two_seconds(settings: &mut Settings) {
    settings.login_throttle.base_wait = time::Duration::seconds(1);
    settings.login_throttle.max_wait = time::Duration::seconds(2);
}

#[derive(Debug, PartialEq)]
struct Answer {
    status: u16,
    body: Value,
    retry_after: Option<String>,
}

async fn attempt(stack: &TestStack, email: &str, password: &str) -> Answer {
    let response = call::login(&stack.state, email, password).await;
    Answer {
        status: response.status().as_u16(),
        body: body_json(&response),
        retry_after: response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().expect("ascii").to_owned()),
    }
}

async fn fail_times(stack: &TestStack, email: &str, times: usize) {
    for n in 1..=times {
        let answer = attempt(stack, email, WRONG).await;
        assert_eq!(answer.status, 401, "failure {n}: {answer:?}");
    }
}

async fn registered(stack: &TestStack, email: &str) {
    let response = call::register(&stack.state, &registration(email)).await;
    assert_eq!(response.status(), 202, "{}", body_json(&response));
}

async fn count_item(stack: &TestStack, email: &str) -> Option<Item> {
    let key = capecontrol_shared::store::login_failures::key(&Email::parse(email).expect("email"));
    let item = stack
        .dynamo()
        .get_item()
        .table_name(stack.state.table())
        .set_key(Some(key))
        .consistent_read(true)
        .send()
        .await
        .expect("read the count");
    item.item
}

fn number(item: &Item, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
}

async fn failures(stack: &TestStack, email: &str) -> Option<i64> {
    count_item(stack, email)
        .await
        .and_then(|item| number(&item, "failures"))
}

async fn audit_of(stack: &TestStack, event: &str) -> Vec<Item> {
    let entries = stack.items_of("audit").await.expect("scan");
    entries
        .into_iter()
        .filter(|item| string(item, "event_type") == Some(event))
        .collect()
}

fn assert_waiting(answer: &Answer, seconds: &str) {
    assert_eq!(answer.status, 429, "{answer:?}");
    assert_eq!(answer.body["error"]["code"], "too_many_attempts");
    assert_eq!(answer.retry_after.as_deref(), Some(seconds), "{answer:?}");
}

async fn sleep_ms(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

#[tokio::test]
async fn five_failures_make_login_wait_even_with_the_right_password_and_refusals_are_not_counted() {
    let stack = TestStack::with_settings(one_then_two_seconds)
        .await
        .expect("stack");
    registered(&stack, "wait@example.com").await;
    fail_times(&stack, "wait@example.com", 5).await;
    assert_eq!(failures(&stack, "wait@example.com").await, Some(5));

    assert_waiting(
        &attempt(&stack, "wait@example.com", STRONG_PASSWORD).await,
        "1",
    );
    assert_waiting(&attempt(&stack, "WAIT@example.com", WRONG).await, "1");
    assert_eq!(failures(&stack, "wait@example.com").await, Some(5));
    assert!(stack.items_of("session").await.expect("scan").is_empty());

    sleep_ms(1_100).await;
    let answer = attempt(&stack, "wait@example.com", STRONG_PASSWORD).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(count_item(&stack, "wait@example.com").await, None);
}

#[tokio::test]
async fn each_further_failure_doubles_the_wait_up_to_the_cap_and_a_success_clears_the_count() {
    let stack = TestStack::with_settings(one_then_two_seconds)
        .await
        .expect("stack");
    let email = "double@example.com";
    registered(&stack, email).await;
    fail_times(&stack, email, 5).await;
    assert_waiting(&attempt(&stack, email, WRONG).await, "1");

    sleep_ms(1_100).await;
    fail_times(&stack, email, 1).await;
    assert_waiting(&attempt(&stack, email, WRONG).await, "2");
    sleep_ms(1_100).await;
    assert_waiting(&attempt(&stack, email, STRONG_PASSWORD).await, "1");

    sleep_ms(1_000).await;
    fail_times(&stack, email, 1).await;
    assert_waiting(&attempt(&stack, email, WRONG).await, "2");
    assert_eq!(failures(&stack, email).await, Some(7));

    sleep_ms(2_100).await;
    assert_eq!(attempt(&stack, email, STRONG_PASSWORD).await.status, 200);
    let succeeded = audit_of(&stack, "login_succeeded").await;
    let metadata = string(&succeeded[0], "metadata").expect("metadata");
    assert!(metadata.contains("\"cleared_failures\":7"), "{metadata}");
    fail_times(&stack, email, 1).await;
    assert_eq!(
        failures(&stack, email).await,
        Some(1),
        "counting starts over"
    );
}

#[tokio::test]
async fn an_unknown_email_is_throttled_exactly_like_a_registered_one_and_not_named_in_the_audit() {
    let stack = TestStack::with_settings(one_then_two_seconds)
        .await
        .expect("stack");
    registered(&stack, "known@example.com").await;
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for _ in 0..7 {
        known.push(attempt(&stack, "known@example.com", WRONG).await);
        unknown.push(attempt(&stack, "ghost@example.com", STRONG_PASSWORD).await);
    }
    assert_eq!(known, unknown);
    let statuses: Vec<u16> = unknown.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429, 429]);
    assert_eq!(failures(&stack, "ghost@example.com").await, Some(5));

    let started = audit_of(&stack, "login_throttle_started").await;
    let throttled = audit_of(&stack, "login_throttled").await;
    assert_eq!((started.len(), throttled.len()), (2, 4));
    let with_user = |items: &[Item]| items.iter().filter(|i| i.contains_key("user_id")).count();
    assert_eq!((with_user(&started), with_user(&throttled)), (1, 2));
    let entries = format!("{:?}", stack.items_of("audit").await.expect("scan"));
    assert!(
        !entries.contains("ghost"),
        "the unknown address is in the audit trail"
    );
}

/// Lockout after 8 failures and 200 ms waits, to keep the test short (the default is 100).
fn lockout_at_eight(settings: &mut Settings) {
    settings.login_throttle.lockout_failures = 8;
    settings.login_throttle.base_wait = time::Duration::milliseconds(200);
    settings.login_throttle.max_wait = time::Duration::milliseconds(200);
}

async fn fail_until_locked(stack: &TestStack, email: &str, password: &str) {
    for n in 1..=8 {
        if n > 5 {
            sleep_ms(250).await;
        }
        let answer = attempt(stack, email, password).await;
        assert_eq!(answer.status, 401, "failure {n}: {answer:?}");
    }
}

fn assert_locked(answer: &Answer) {
    assert_eq!(answer.status, 429, "{answer:?}");
    assert_eq!(answer.body["error"]["code"], "login_locked");
    assert_eq!(answer.retry_after, None);
}

#[tokio::test]
async fn at_the_lockout_threshold_login_is_refused_for_any_email_until_the_count_is_cleared() {
    let stack = TestStack::with_settings(lockout_at_eight)
        .await
        .expect("stack");
    registered(&stack, "locked@example.com").await;
    fail_until_locked(&stack, "locked@example.com", WRONG).await;
    fail_until_locked(&stack, "nobody@example.com", STRONG_PASSWORD).await;

    sleep_ms(400).await;
    assert_locked(&attempt(&stack, "locked@example.com", STRONG_PASSWORD).await);
    assert_eq!(
        attempt(&stack, "locked@example.com", STRONG_PASSWORD).await,
        attempt(&stack, "nobody@example.com", STRONG_PASSWORD).await
    );
    let item = count_item(&stack, "locked@example.com")
        .await
        .expect("item");
    assert_eq!(number(&item, "failures"), Some(8));
    assert_eq!(item.get("locked_out"), Some(&AttributeValue::Bool(true)));
    assert!(!item.contains_key("ttl"), "a lockout does not expire");
    assert_eq!(audit_of(&stack, "login_locked_out").await.len(), 2);

    let email = Email::parse("locked@example.com").expect("email");
    let reset = login::clear(stack.state.table(), &email).expect("item");
    db::transact(stack.dynamo(), vec![reset])
        .await
        .expect("clear");
    let answer = attempt(&stack, "locked@example.com", STRONG_PASSWORD).await;
    assert_eq!(answer.status, 200, "{answer:?}");
}

#[tokio::test]
async fn a_count_is_forgotten_thirty_days_after_its_last_failure_even_before_the_ttl_deletes_it() {
    let stack = TestStack::new().await.expect("stack");
    let email = "forget@example.com";
    registered(&stack, email).await;
    fail_times(&stack, email, 4).await;
    let item = count_item(&stack, email).await.expect("item");
    let last = number(&item, "last_failure_ms").expect("last failure");
    let thirty_days_s = 30 * 86_400;
    assert_eq!(number(&item, "ttl"), Some(last / 1_000 + thirty_days_s));

    let long_ago = clock::epoch_millis(clock::now()) - (thirty_days_s + 1) * 1_000;
    stack
        .dynamo()
        .update_item()
        .table_name(stack.state.table())
        .set_key(Some(capecontrol_shared::store::key(
            format!("EMAIL#{email}"),
            "LOGIN_FAILURES",
        )))
        .update_expression("SET last_failure_ms = :t")
        .expression_attribute_values(":t", AttributeValue::N(long_ago.to_string()))
        .send()
        .await
        .expect("age the count");

    fail_times(&stack, email, 1).await;
    assert_eq!(failures(&stack, email).await, Some(1));
    assert_eq!(attempt(&stack, email, STRONG_PASSWORD).await.status, 200);
}

#[tokio::test]
async fn twenty_concurrent_wrong_passwords_are_counted_five_times_and_the_other_fifteen_refused() {
    let stack = TestStack::new().await.expect("stack");
    let email = "swarm@example.com";
    registered(&stack, email).await;
    let stack = &stack;
    let answers = join_all((0..20).map(|_| attempt(stack, email, WRONG))).await;
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    let count = |status| statuses.iter().filter(|s| **s == status).count();
    assert_eq!((count(401), count(429)), (5, 15), "{statuses:?}");
    assert_eq!(failures(stack, email).await, Some(5));
    assert_eq!(audit_of(stack, "login_failed").await.len(), 5);
    assert_eq!(audit_of(stack, "login_throttle_started").await.len(), 1);
    assert_eq!(audit_of(stack, "login_throttled").await.len(), 15);
    for answer in answers.iter().filter(|a| a.status == 429) {
        let seconds: u64 = answer
            .retry_after
            .as_deref()
            .expect("header")
            .parse()
            .expect("n");
        assert!((1..=60).contains(&seconds), "{answer:?}");
    }
}

#[tokio::test]
async fn a_success_whose_read_predates_the_failure_that_started_a_wait_is_refused() {
    let stack = TestStack::new().await.expect("stack");
    let email = Email::parse("late@example.com").expect("email");
    registered(&stack, "late@example.com").await;
    fail_times(&stack, "late@example.com", 4).await;
    let stale_now = clock::now();
    let clearing = login::clear_unless_throttled(stack.state.table(), &email, stale_now);

    fail_times(&stack, "late@example.com", 1).await;
    let error = db::transact(stack.dynamo(), vec![clearing.expect("item")])
        .await
        .expect_err("the wait is in force");
    match login::refusal_in(&error, 0, clock::now()) {
        Some(Verdict::Wait(retry_after)) => assert!(retry_after.seconds() <= 60),
        other => panic!("expected a wait, got {other:?}"),
    }
    assert_eq!(failures(&stack, "late@example.com").await, Some(5));
}

#[tokio::test]
async fn a_password_reset_lifts_the_lockout() {
    let stack = TestStack::with_settings(lockout_at_eight)
        .await
        .expect("stack");
    let email = unique_email("reset-lock");
    registered(&stack, &email).await;
    fail_until_locked(&stack, &email, WRONG).await;
    assert_locked(&attempt(&stack, &email, STRONG_PASSWORD).await);

    let request = json!({"email": email});
    let requested = post_to(
        Handler::Reset,
        &stack.state,
        "/auth/password-reset",
        &request,
    )
    .await;
    assert_eq!(requested.status(), 202);
    let mails = mails_to(&email).await.expect("mails");
    let token = mails
        .iter()
        .rev()
        .find_map(|m| m.token())
        .expect("a reset link");
    let body = json!({"token": token, "new_password": "copper lantern hums below 7 dunes"});
    let path = "/auth/password-reset/confirm";
    let confirmed = post_to(Handler::Reset, &stack.state, path, &body).await;
    assert_eq!(confirmed.status(), 204, "{}", body_json(&confirmed));

    assert_eq!(count_item(&stack, &email).await, None);
    let answer = attempt(&stack, &email, "copper lantern hums below 7 dunes").await;
    assert_eq!(answer.status, 200, "{answer:?}");
}
