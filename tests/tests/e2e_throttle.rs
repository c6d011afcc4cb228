//! Login throttling end-to-end over HTTP through the running local stack (`make test` starts
//! it, with a 2 s base wait, and runs these with `--ignored`).

use capecontrol_tests::api::Api;
use capecontrol_tests::unique_email;
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

const WRONG: &str = "definitely not the password";

struct Answer {
    status: StatusCode,
    retry_after: Option<u64>,
    body: Value,
}

/// The calls these tests make, each answer checked against openapi.yaml by [`Api`].
struct Stack {
    api: Api,
}

impl Stack {
    fn from_env() -> Self {
        Self {
            api: Api::from_env(),
        }
    }

    async fn login(&self, email: &str, password: &str) -> Answer {
        let body = json!({"email": email, "password": password});
        let answer = self.api.post("/auth/login", &body).await;
        Answer {
            status: StatusCode::from_u16(answer.status).expect("an HTTP status"),
            retry_after: answer.header("retry-after").and_then(|v| v.parse().ok()),
            body: answer.json(),
        }
    }

    async fn register(&self, email: &str) {
        let body = capecontrol_tests::registration(email);
        assert_eq!(self.api.post("/auth/register", &body).await.status, 202);
    }
}

/// The stack's configured base wait (infra/test.sh sets 2 s for these tests).
fn base_wait() -> u64 {
    std::env::var("LOGIN_THROTTLE_BASE_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60)
}

#[tokio::test]
#[ignore = "needs the running local stack; `make test` runs it"]
async fn five_wrong_passwords_over_http_bring_429_with_retry_after_then_login_recovers() {
    let stack = Stack::from_env();
    let email = unique_email("lockout");
    stack.register(&email).await;
    for _ in 0..5 {
        assert_eq!(stack.login(&email, WRONG).await.status, 401);
    }

    let refused = stack
        .login(&email, capecontrol_tests::STRONG_PASSWORD)
        .await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.body["error"]["code"], "too_many_attempts");
    let retry_after = refused.retry_after.expect("a Retry-After header");
    assert!((1..=base_wait()).contains(&retry_after), "{retry_after}");

    tokio::time::sleep(Duration::from_millis(retry_after * 1_000 + 200)).await;
    let recovered = stack
        .login(&email, capecontrol_tests::STRONG_PASSWORD)
        .await;
    assert_eq!(recovered.status, StatusCode::OK, "{}", recovered.body);
    assert!(recovered.body["access_token"].is_string());
}

#[tokio::test]
#[ignore = "needs the running local stack; `make test` runs it"]
async fn an_unknown_email_over_http_is_refused_with_the_same_429() {
    let stack = Stack::from_env();
    let known = unique_email("known");
    let unknown = unique_email("unknown");
    stack.register(&known).await;
    for _ in 0..5 {
        assert_eq!(stack.login(&known, WRONG).await.status, 401);
        assert_eq!(stack.login(&unknown, WRONG).await.status, 401);
    }
    let (known, unknown) = (
        stack.login(&known, WRONG).await,
        stack.login(&unknown, WRONG).await,
    );
    assert_eq!(unknown.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(known.status, unknown.status);
    assert_eq!(known.body, unknown.body);
    assert!(unknown.retry_after.is_some());
}

#[tokio::test]
#[ignore = "needs the running local stack; `make test` runs it"]
async fn twelve_concurrent_wrong_passwords_over_http_are_counted_five_times() {
    let stack = Stack::from_env();
    let email = unique_email("swarm");
    stack.register(&email).await;
    let answers = join_all((0..12).map(|_| stack.login(&email, WRONG))).await;
    let count = |status| answers.iter().filter(|a| a.status == status).count();
    assert_eq!(
        (
            count(StatusCode::UNAUTHORIZED),
            count(StatusCode::TOO_MANY_REQUESTS)
        ),
        (5, 7)
    );
}
