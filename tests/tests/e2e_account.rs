//! End-to-end over HTTP through the running local stack (`make test` starts it and runs these
//! with `--ignored`): the account routes of `template.yaml` behind the router, from
//! registration to deletion and a new registration of the freed address.

use capecontrol_tests::local::Api;
use capecontrol_tests::{registration, unique_email, STRONG_PASSWORD};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;

async fn register(api: &Api, email: &str) {
    let body = registration(email);
    let (status, answer) = api
        .call(Method::POST, "/auth/register", Some(&body), "")
        .await;
    assert_eq!(status, 202, "{answer}");
}

async fn login(api: &Api, email: &str) -> Value {
    let body = json!({ "email": email, "password": STRONG_PASSWORD });
    let (status, tokens) = api.call(Method::POST, "/auth/login", Some(&body), "").await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

fn text(body: &Value, name: &str) -> String {
    body[name]
        .as_str()
        .unwrap_or_else(|| panic!("no {name} in {body}"))
        .to_owned()
}

/// Every export page's item keys, following `next`.
async fn export_keys(api: &Api, access: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut path = "/users/me/export".to_owned();
    loop {
        let (status, page) = api.call(Method::GET, &path, None, access).await;
        assert_eq!(status, 200, "{page}");
        let items = page["items"].as_array().cloned().unwrap_or_default();
        keys.extend(items.iter().map(|i| text(i, "key")));
        match page["next"].as_str() {
            Some(next) => path = format!("/users/me/export?cursor={next}"),
            None => return keys,
        }
    }
}

#[tokio::test]
#[ignore = "needs the local stack; run by `make test`"]
async fn an_account_is_read_changed_exported_and_deleted_over_http() {
    let api = Api::new().await;
    let email = unique_email("e2e-account");
    register(&api, &email).await;
    let first = login(&api, &email).await;
    let access = text(&first, "access_token");
    for _ in 0..30 {
        login(&api, &email).await;
    }

    let (status, me) = api.call(Method::GET, "/users/me", None, &access).await;
    assert_eq!(
        (status, me["user"]["email"].as_str()),
        (200, Some(email.as_str()))
    );
    let change = json!({ "website": "https://thandi.example.com", "last_name": null });
    let (status, changed) = api
        .call(Method::PATCH, "/users/me", Some(&change), &access)
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["user"]["website"], "https://thandi.example.com");
    let (status, _) = api
        .call(
            Method::PATCH,
            "/users/me",
            Some(&json!({"role": "admin"})),
            &access,
        )
        .await;
    assert_eq!(status, 422);

    let (status, listed) = api.call(Method::GET, "/auth/sessions", None, &access).await;
    assert_eq!(status, 200);
    let sessions = listed["sessions"].as_array().cloned().unwrap_or_default();
    assert_eq!(sessions.len(), 31);
    let other = sessions
        .iter()
        .find(|s| s["current"] == false)
        .map(|s| text(s, "id"))
        .expect("other");
    let path = format!("/auth/sessions/{other}");
    assert_eq!(api.call(Method::DELETE, &path, None, &access).await.0, 204);
    assert_eq!(api.call(Method::DELETE, &path, None, &access).await.0, 404);

    let keys = export_keys(&api, &access).await;
    let unique: BTreeSet<&String> = keys.iter().collect();
    assert_eq!(unique.len(), keys.len(), "each item once");
    assert!(keys.len() > 100, "{} items over several pages", keys.len());

    let wrong = json!({ "current_password": "not the password at all" });
    assert_eq!(
        api.call(Method::DELETE, "/users/me", Some(&wrong), &access)
            .await
            .0,
        403
    );
    let right = json!({ "current_password": STRONG_PASSWORD });
    let (status, deleted) = api
        .call(Method::DELETE, "/users/me", Some(&right), &access)
        .await;
    assert_eq!(
        (status, deleted["status"].as_str()),
        (200, Some("deleted")),
        "{deleted}"
    );

    assert_eq!(
        api.call(Method::GET, "/users/me", None, &access).await.0,
        401
    );
    let refresh = json!({ "refresh_token": text(&first, "refresh_token") });
    assert_eq!(
        api.call(Method::POST, "/auth/refresh", Some(&refresh), "")
            .await
            .0,
        401
    );
    register(&api, &email).await;
    let fresh = login(&api, &email).await;
    let (status, me) = api
        .call(
            Method::GET,
            "/users/me",
            None,
            &text(&fresh, "access_token"),
        )
        .await;
    assert_eq!(status, 200);
    assert_ne!(me["user"]["id"], changed["user"]["id"], "a new account");
    assert_eq!(me["user"]["website"], Value::Null);
}
