//! End-to-end over HTTP through the running local stack (`make test` starts it and runs these
//! with `--ignored`): the routes of `template.yaml`, served by `cargo-lambda watch` with
//! several instances per function, on the emulator.

use capecontrol_tests::{mails_to, unique_email};
use futures::future::join_all;
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

struct Api {
    base: String,
    client: Client,
}

impl Api {
    fn new() -> Self {
        let base = std::env::var("CAPECONTROL_API_URL").expect("CAPECONTROL_API_URL is set");
        assert!(
            base.starts_with("http://127.0.0.1:"),
            "only a local stack: {base}"
        );
        Self {
            base,
            client: Client::new(),
        }
    }

    async fn post(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .expect("the stack answers")
    }

    async fn post_bearer(&self, path: &str, access_token: &str) -> Response {
        self.client
            .post(format!("{}{path}", self.base))
            .bearer_auth(access_token)
            .send()
            .await
            .expect("the stack answers")
    }

    async fn register(&self, email: &str) -> StatusCode {
        self.post("/auth/register", &capecontrol_tests::registration(email))
            .await
            .status()
    }

    async fn login(&self, email: &str) -> Value {
        let body = json!({"email": email, "password": capecontrol_tests::STRONG_PASSWORD});
        let response = self.post("/auth/login", &body).await;
        assert_eq!(response.status(), 200);
        response.json().await.expect("json")
    }

    async fn refresh(&self, refresh_token: &str) -> (StatusCode, Value) {
        let response = self
            .post("/auth/refresh", &json!({"refresh_token": refresh_token}))
            .await;
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
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
    let api = Api::new();
    let email = unique_email("journey");
    assert_eq!(api.register(&email).await, StatusCode::ACCEPTED);

    let first = api.login(&email).await;
    let (status, rotated) = api.refresh(&text(&first, "refresh_token")).await;
    assert_eq!(status, 200, "{rotated}");

    let logout_all = api
        .post_bearer("/auth/logout-all", &text(&rotated, "access_token"))
        .await;
    assert_eq!(logout_all.status(), 204);
    assert!(logout_all.headers().contains_key("x-request-id"));
    assert_eq!(api.refresh(&text(&rotated, "refresh_token")).await.0, 401);
    let stale = api
        .post_bearer("/auth/logout-all", &text(&rotated, "access_token"))
        .await;
    assert_eq!(stale.status(), 401);

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
    assert_eq!(api.post("/auth/logout", &body).await.status(), 204);
    assert_eq!(api.refresh(&text(&third, "refresh_token")).await.0, 401);
}

#[tokio::test]
#[ignore = "needs the running local stack; `make test` runs it"]
async fn twenty_concurrent_registrations_over_http_create_one_account() {
    let api = Api::new();
    let email = unique_email("race");
    let statuses = join_all((0..20).map(|_| api.register(&email))).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::ACCEPTED),
        "{statuses:?}"
    );
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
    let api = Api::new();
    let email = unique_email("tabs");
    assert_eq!(api.register(&email).await, StatusCode::ACCEPTED);
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
    let api = Api::new();
    let response = api.post("/auth/nowhere", &json!({})).await;
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test]
#[ignore = "needs the running local stack; `make test` runs it"]
async fn the_mailed_verification_link_verifies_over_http() {
    let api = Api::new();
    let email = unique_email("verify");
    assert_eq!(api.register(&email).await, StatusCode::ACCEPTED);
    let token = mails_to(&email).await.expect("mails")[0]
        .token()
        .expect("token");
    let verified = api
        .post("/auth/verify-email", &json!({"token": token}))
        .await;
    assert_eq!(verified.status(), 204);
    let again = api
        .post("/auth/verify-email", &json!({"token": token}))
        .await;
    assert_eq!(again.status(), 400);
}

#[tokio::test]
#[ignore = "needs the running local stack; `make test` runs it"]
async fn a_reset_over_http_ignores_spoofed_hosts_and_revokes_live_sessions() {
    let api = Api::new();
    let email = unique_email("reset");
    assert_eq!(api.register(&email).await, StatusCode::ACCEPTED);
    let session = api.login(&email).await;

    let spoofed = api
        .client
        .post(format!("{}/auth/password-reset", api.base))
        .header("x-forwarded-host", "evil.example.net")
        .header("forwarded", "host=evil.example.net")
        .header("origin", "https://evil.example.net")
        .header("referer", "https://evil.example.net/")
        .json(&json!({"email": email}))
        .send()
        .await
        .expect("the stack answers");
    assert_eq!(spoofed.status(), 202);
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
        api.post("/auth/password-reset/confirm", &body)
            .await
            .status(),
        204
    );
    assert_eq!(api.refresh(&text(&session, "refresh_token")).await.0, 401);
    let login = json!({"email": email, "password": new_password});
    assert_eq!(api.post("/auth/login", &login).await.status(), 200);
}
