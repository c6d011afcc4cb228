//! End-to-end over HTTP through the running local stack (`make test` starts it and runs these
//! with `--ignored`): the routes of `template.yaml`, served by `cargo-lambda watch` with
//! several instances per function, on the emulator.

use capecontrol_tests::api::{Answer, Api};
use capecontrol_tests::{mails_to, unique_email};
use futures::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

/// The calls these tests make, each answer checked against openapi.yaml by [`Api`].
struct Stack {
    api: Api,
}

impl Stack {
    fn new() -> Self {
        Self {
            api: Api::from_env(),
        }
    }

    async fn post(&self, path: &str, body: &Value) -> Answer {
        self.api.post(path, body).await
    }

    async fn post_bearer(&self, path: &str, access_token: &str) -> Answer {
        self.api
            .request(Method::POST, path)
            .bearer(access_token)
            .send()
            .await
    }

    async fn register(&self, email: &str) -> u16 {
        self.post("/auth/register", &capecontrol_tests::registration(email))
            .await
            .status
    }

    async fn login(&self, email: &str) -> Value {
        let body = json!({"email": email, "password": capecontrol_tests::STRONG_PASSWORD});
        let answer = self.post("/auth/login", &body).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        answer.json()
    }

    async fn refresh(&self, refresh_token: &str) -> (u16, Value) {
        let answer = self
            .post("/auth/refresh", &json!({"refresh_token": refresh_token}))
            .await;
        (answer.status, answer.json())
    }
}

fn grace() -> Duration {
    let seconds = std::env::var("REFRESH_GRACE_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok());
    Duration::from_secs(seconds.unwrap_or(10))
}

fn text(body: &Value, name: &str) -> String {
    body[name]
        .as_str()
        .unwrap_or_else(|| panic!("no {name} in {body}"))
        .to_owned()
}

#[tokio::test]
#[ignore = "needs the running local stack; `make test` runs it"]
async fn register_login_refresh_logout_all_replay_and_logout_over_http() {
    let api = Stack::new();
    let email = unique_email("journey");
    assert_eq!(api.register(&email).await, 202);

    let first = api.login(&email).await;
    let (status, rotated) = api.refresh(&text(&first, "refresh_token")).await;
    assert_eq!(status, 200, "{rotated}");

    let logout_all = api
        .post_bearer("/auth/logout-all", &text(&rotated, "access_token"))
        .await;
    assert_eq!(logout_all.status, 204);
    assert!(logout_all.header("x-request-id").is_some());
    assert_eq!(api.refresh(&text(&rotated, "refresh_token")).await.0, 401);
    let stale = api
        .post_bearer("/auth/logout-all", &text(&rotated, "access_token"))
        .await;
    assert_eq!(stale.status, 401);

    let second = api.login(&email).await;
    let (_, child) = api.refresh(&text(&second, "refresh_token")).await;
    tokio::time::sleep(grace() + Duration::from_millis(500)).await;
    let (status, replay) = api.refresh(&text(&second, "refresh_token")).await;
    assert_eq!(status, 401);
    assert_eq!(replay["error"]["code"], "invalid_refresh_token");
    assert_eq!(
        api.refresh(&text(&child, "refresh_token")).await.0,
        401,
        "family revoked"
    );

    let third = api.login(&email).await;
    let body = json!({"refresh_token": text(&third, "refresh_token")});
    assert_eq!(api.post("/auth/logout", &body).await.status, 204);
    assert_eq!(api.refresh(&text(&third, "refresh_token")).await.0, 401);
}

#[tokio::test]
#[ignore = "needs the running local stack; `make test` runs it"]
async fn twenty_concurrent_registrations_over_http_create_one_account() {
    let api = Stack::new();
    let email = unique_email("race");
    let statuses = join_all((0..20).map(|_| api.register(&email))).await;
    assert!(statuses.iter().all(|s| *s == 202), "{statuses:?}");
    let (verifications, attempts) = capecontrol_tests::registration_mail_counts(&email)
        .await
        .expect("mails");
    assert_eq!(
        (verifications, attempts),
        (1, 19),
        "one account, nineteen attempts"
    );
}

#[tokio::test]
#[ignore = "needs the running local stack; `make test` runs it"]
async fn ten_concurrent_refreshes_over_http_all_succeed_then_a_late_replay_revokes_the_family() {
    let api = Stack::new();
    let email = unique_email("tabs");
    assert_eq!(api.register(&email).await, 202);
    let login = api.login(&email).await;
    let shared = text(&login, "refresh_token");

    let results = join_all((0..10).map(|_| api.refresh(&shared))).await;
    let children: Vec<String> = results
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, 200, "{body}");
            text(body, "refresh_token")
        })
        .collect();

    tokio::time::sleep(grace() + Duration::from_millis(500)).await;
    assert_eq!(api.refresh(&shared).await.0, 401);
    for child in children {
        assert_eq!(api.refresh(&child).await.0, 401);
    }
}

#[tokio::test]
#[ignore = "needs the running local stack; `make test` runs it"]
async fn the_local_router_answers_unknown_routes_with_a_json_404() {
    let api = Stack::new();
    let answer = api
        .api
        .request(Method::POST, "/auth/nowhere")
        .json(&json!({}))
        .send_unrouted()
        .await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.code(), "not_found");
}

#[tokio::test]
#[ignore = "needs the running local stack; `make test` runs it"]
async fn the_mailed_verification_link_verifies_over_http() {
    let api = Stack::new();
    let email = unique_email("verify");
    assert_eq!(api.register(&email).await, 202);
    let token = mails_to(&email).await.expect("mails")[0]
        .token()
        .expect("token");
    let verified = api
        .post("/auth/verify-email", &json!({"token": token}))
        .await;
    assert_eq!(verified.status, 204);
    let again = api
        .post("/auth/verify-email", &json!({"token": token}))
        .await;
    assert_eq!(again.status, 400);
    assert_eq!(again.code(), "invalid_verification_token");
}

#[tokio::test]
#[ignore = "needs the running local stack; `make test` runs it"]
async fn a_reset_over_http_ignores_spoofed_hosts_and_revokes_live_sessions() {
    let api = Stack::new();
    let email = unique_email("reset");
    assert_eq!(api.register(&email).await, 202);
    let session = api.login(&email).await;

    let spoofed = api
        .api
        .request(Method::POST, "/auth/password-reset")
        .header("x-forwarded-host", "evil.example.net")
        .header("forwarded", "host=evil.example.net")
        .header("origin", "https://evil.example.net")
        .header("referer", "https://evil.example.net/")
        .json(&json!({"email": email}))
        .send()
        .await;
    assert_eq!(spoofed.status, 202);
    let mail = mails_to(&email)
        .await
        .expect("mails")
        .pop()
        .expect("a reset mail");
    let link = mail.link().expect("link");
    assert!(
        link.starts_with("https://app.capecontrol.example/reset-password?token="),
        "{link}"
    );
    assert!(!mail.html.contains("evil"));

    let new_password = "copper lantern hums below 7 dunes";
    let body = json!({"token": mail.token().expect("token"), "new_password": new_password});
    assert_eq!(
        api.post("/auth/password-reset/confirm", &body).await.status,
        204
    );
    assert_eq!(api.refresh(&text(&session, "refresh_token")).await.0, 401);
    let login = json!({"email": email, "password": new_password});
    assert_eq!(api.post("/auth/login", &login).await.status, 200);
}
