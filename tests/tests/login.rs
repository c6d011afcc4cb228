//! `POST /auth/login` against the emulator.

use aws_sdk_dynamodb::types::AttributeValue;
use capecontrol_shared::password::{Hasher, Password};
use capecontrol_shared::store::key;
use capecontrol_tests::STRONG_PASSWORD;
use capecontrol_tests::{
    body_json, call, registration, string, token, Event, EventKind, TestStack,
};

async fn registered(stack: &TestStack, email: &str) {
    let response = call::register(&stack.state, &registration(email)).await;
    assert_eq!(response.status(), 202, "{}", body_json(&response));
}

#[tokio::test]
async fn a_correct_password_yields_a_bearer_pair_that_is_not_cached() {
    let stack = TestStack::new().await.expect("stack");
    registered(&stack, "pair@example.com").await;
    let response = call::login(&stack.state, "PAIR@example.com", STRONG_PASSWORD).await;
    assert_eq!(response.status(), 200, "{}", body_json(&response));
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body = body_json(&response);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(token(&body, "refresh_token").len(), 43);
    let claims = stack
        .state
        .tokens
        .verify(&token(&body, "access_token"), &stack.state.keys)
        .await;
    let claims = claims.expect("a valid access token");
    let users = stack.items_of("user").await.expect("scan");
    assert_eq!(Some(claims.sub.as_str()), string(&users[0], "id"));
    assert!(string(&users[0], "last_login_at").is_some());
}

#[tokio::test]
async fn the_session_records_the_gateway_source_ip_and_user_agent_not_forwarded_headers() {
    for kind in EventKind::ALL {
        let stack = TestStack::new().await.expect("stack");
        registered(&stack, "ip@example.com").await;
        let body = serde_json::json!({"email": "ip@example.com", "password": STRONG_PASSWORD});
        let event = Event::new(kind, "/auth/login").expect("event").json(&body);
        let response = login::handle(&stack.state, event.request().expect("request")).await;
        assert_eq!(response.status(), 200, "{kind:?}");
        let sessions = stack.items_of("session").await.expect("scan");
        assert_eq!(sessions.len(), 1);
        assert_eq!(string(&sessions[0], "ip_address"), Some(kind.source_ip()));
        assert!(
            string(&sessions[0], "user_agent").is_some_and(|ua| ua.starts_with("fixture-client"))
        );
        let tokens = stack.items_of("refresh_token").await.expect("scan");
        assert_eq!(tokens.len(), 1);
        let refresh = token(&body_json(&response), "refresh_token");
        assert!(!format!("{:?}", stack.all_items().await.expect("scan")).contains(&refresh));
    }
}

#[tokio::test]
async fn unknown_email_and_wrong_password_get_the_same_401_and_are_audited() {
    let stack = TestStack::new().await.expect("stack");
    registered(&stack, "known@example.com").await;
    let wrong = call::login(&stack.state, "known@example.com", "not the password at all").await;
    let unknown = call::login(&stack.state, "nobody@example.com", STRONG_PASSWORD).await;
    let malformed = call::login(&stack.state, "not an address", STRONG_PASSWORD).await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(unknown.status(), 401);
    assert_eq!(malformed.status(), 401);
    assert_eq!(body_json(&wrong), body_json(&unknown));
    assert_eq!(body_json(&wrong), body_json(&malformed));
    assert_eq!(body_json(&wrong)["error"]["code"], "invalid_credentials");
    let failures: Vec<_> = stack
        .items_of("audit")
        .await
        .expect("scan")
        .into_iter()
        .filter(|item| string(item, "event_type") == Some("login_failed"))
        .collect();
    assert_eq!(failures.len(), 3);
    assert_eq!(
        failures
            .iter()
            .filter(|item| item.contains_key("user_id"))
            .count(),
        1
    );
    assert!(stack.items_of("session").await.expect("scan").is_empty());
}

#[tokio::test]
async fn an_over_long_password_is_a_plain_401() {
    let stack = TestStack::new().await.expect("stack");
    registered(&stack, "long@example.com").await;
    let response = call::login(&stack.state, "long@example.com", &"x".repeat(600)).await;
    assert_eq!(response.status(), 401);
    assert_eq!(body_json(&response)["error"]["code"], "invalid_credentials");
}

async fn deactivate(stack: &TestStack, email: &str) {
    let table = stack.state.table();
    let users = stack.items_of("user").await.expect("scan");
    let user_pk = string(&users[0], "pk").expect("pk").to_owned();
    for (pk, sk) in [
        (format!("EMAIL#{email}"), "CREDENTIALS"),
        (user_pk, "PROFILE"),
    ] {
        stack
            .dynamo()
            .update_item()
            .table_name(table)
            .set_key(Some(key(pk, sk)))
            .update_expression("SET is_active = :no")
            .expression_attribute_values(":no", AttributeValue::Bool(false))
            .send()
            .await
            .expect("deactivate");
    }
}

#[tokio::test]
async fn an_inactive_account_is_told_so_only_after_the_right_password() {
    let stack = TestStack::new().await.expect("stack");
    registered(&stack, "off@example.com").await;
    deactivate(&stack, "off@example.com").await;
    let wrong = call::login(&stack.state, "off@example.com", "wrong password entirely").await;
    assert_eq!(wrong.status(), 401);
    let right = call::login(&stack.state, "off@example.com", STRONG_PASSWORD).await;
    assert_eq!(right.status(), 403);
    assert_eq!(body_json(&right)["error"]["code"], "account_inactive");
    assert!(stack.items_of("session").await.expect("scan").is_empty());
}

#[tokio::test]
async fn a_hash_made_with_older_parameters_is_replaced_at_login() {
    let stack = TestStack::new().await.expect("stack");
    registered(&stack, "old@example.com").await;
    let weak = Hasher::with_params(4_096, 1, 1).expect("params");
    let old_hash = weak
        .hash(Password::from_attempt(STRONG_PASSWORD).expect("ok"))
        .await
        .expect("hash");
    stack
        .dynamo()
        .update_item()
        .table_name(stack.state.table())
        .set_key(Some(key("EMAIL#old@example.com", "CREDENTIALS")))
        .update_expression("SET password_hash = :h")
        .expression_attribute_values(":h", AttributeValue::S(old_hash.expose().to_owned()))
        .send()
        .await
        .expect("downgrade the hash");

    let response = call::login(&stack.state, "old@example.com", STRONG_PASSWORD).await;
    assert_eq!(response.status(), 200);
    let credentials = stack.items_of("credentials").await.expect("scan");
    let stored = string(&credentials[0], "password_hash").expect("hash");
    assert!(
        stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{stored}"
    );
    assert_eq!(
        call::login(&stack.state, "old@example.com", STRONG_PASSWORD)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn without_a_readable_signing_key_login_is_503_and_opens_no_session() {
    let stack = TestStack::with_settings(|s| s.signing_secret_id = "no-such-secret".into())
        .await
        .expect("stack");
    registered(&stack, "nokey@example.com").await;
    let response = call::login(&stack.state, "nokey@example.com", STRONG_PASSWORD).await;
    assert_eq!(response.status(), 503);
    assert_eq!(body_json(&response)["error"]["code"], "service_unavailable");
    assert!(stack.items_of("session").await.expect("scan").is_empty());
}

#[tokio::test]
async fn missing_or_unknown_login_fields_are_422() {
    let stack = TestStack::new().await.expect("stack");
    let body = serde_json::json!({"email": "a@example.com", "remember": true});
    let response = login::handle(&stack.state, Event::post("/auth/login", &body).expect("e")).await;
    assert_eq!(response.status(), 422);
    let fields = &body_json(&response)["error"]["fields"];
    assert_eq!(fields[0]["field"], "password");
    assert_eq!(fields[1]["field"], "remember");
}

#[tokio::test]
async fn with_unverified_logins_off_an_unverified_account_is_told_after_the_right_password() {
    let stack = TestStack::with_settings(|s| s.allow_unverified_login = false)
        .await
        .expect("stack");
    registered(&stack, "unverified@example.com").await;
    let wrong = call::login(
        &stack.state,
        "unverified@example.com",
        "wrong password entirely",
    )
    .await;
    assert_eq!(wrong.status(), 401);
    let right = call::login(&stack.state, "unverified@example.com", STRONG_PASSWORD).await;
    assert_eq!(right.status(), 403);
    assert_eq!(body_json(&right)["error"]["code"], "email_not_verified");
}
