//! Email verification and resend, reading the mail back from the emulator.

use capecontrol_tests::call::{self, post_to};
use capecontrol_tests::{
    body_json, mails_to, registration, string, unique_email, Handler, TestStack,
};
use serde_json::json;

async fn registered(stack: &TestStack, email: &str) -> String {
    assert_eq!(
        call::register(&stack.state, &registration(email))
            .await
            .status(),
        202
    );
    mails_to(email)
        .await
        .expect("mails")
        .last()
        .and_then(|m| m.token())
        .expect("a token")
}

async fn verify(stack: &TestStack, token: &str) -> u16 {
    let body = json!({"token": token});
    post_to(Handler::Verify, &stack.state, "/auth/verify-email", &body)
        .await
        .status()
        .as_u16()
}

async fn resend(stack: &TestStack, email: &str) -> lambda_http::Response<lambda_http::Body> {
    post_to(
        Handler::Verify,
        &stack.state,
        "/auth/verify-email/resend",
        &json!({"email": email}),
    )
    .await
}

#[tokio::test]
async fn the_mailed_link_verifies_the_account_once() {
    let stack = TestStack::new().await.expect("stack");
    let email = unique_email("verify");
    let token = registered(&stack, &email).await;

    assert_eq!(verify(&stack, &token).await, 204);
    let users = stack.items_of("user").await.expect("scan");
    assert_eq!(
        users[0].get("is_verified").and_then(|v| v.as_bool().ok()),
        Some(&true)
    );
    assert!(string(&users[0], "email_verified_at").is_some());
    let credentials = stack.items_of("credentials").await.expect("scan");
    assert_eq!(
        credentials[0]
            .get("is_verified")
            .and_then(|v| v.as_bool().ok()),
        Some(&true)
    );

    assert_eq!(verify(&stack, &token).await, 400, "a token works once");
    let login = call::login(&stack.state, &email, capecontrol_tests::STRONG_PASSWORD).await;
    let access = body_json(&login)["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let claims = stack
        .state
        .tokens
        .verify(&access, &stack.state.keys)
        .await
        .expect("valid");
    assert!(claims.email_verified);
}

#[tokio::test]
async fn a_resend_supersedes_the_older_link() {
    let stack = TestStack::new().await.expect("stack");
    let email = unique_email("resend");
    let first = registered(&stack, &email).await;
    assert_eq!(resend(&stack, &email).await.status(), 202);
    let mails = mails_to(&email).await.expect("mails");
    assert_eq!(mails.len(), 2);
    let second = mails[1].token().expect("token");
    assert_ne!(first, second);
    assert_eq!(verify(&stack, &first).await, 400, "superseded");
    assert_eq!(verify(&stack, &second).await, 204);
}

#[tokio::test]
async fn resend_answers_alike_for_unknown_verified_and_waiting_addresses() {
    let stack = TestStack::new().await.expect("stack");
    let waiting = unique_email("waiting");
    registered(&stack, &waiting).await;
    let unknown = unique_email("unknown");
    let bodies = [
        body_json(&resend(&stack, &waiting).await),
        body_json(&resend(&stack, &unknown).await),
        body_json(&resend(&stack, "not an address").await),
    ];
    assert_eq!(bodies[0], bodies[1]);
    assert_eq!(bodies[0], bodies[2]);
    assert!(mails_to(&unknown).await.expect("mails").is_empty());
    assert_eq!(mails_to(&waiting).await.expect("mails").len(), 2);
}

#[tokio::test]
async fn an_expired_or_malformed_token_is_refused_with_one_answer() {
    let stack = TestStack::with_settings(|s| s.verify_token_ttl = time::Duration::seconds(1))
        .await
        .expect("stack");
    let email = unique_email("late");
    let token = registered(&stack, &email).await;
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    let late = post_to(
        Handler::Verify,
        &stack.state,
        "/auth/verify-email",
        &json!({"token": token}),
    )
    .await;
    let garbage = post_to(
        Handler::Verify,
        &stack.state,
        "/auth/verify-email",
        &json!({"token": "x"}),
    )
    .await;
    assert_eq!(late.status(), 400);
    assert_eq!(body_json(&late), body_json(&garbage));
    assert_eq!(
        body_json(&late)["error"]["code"],
        "invalid_verification_token"
    );
}

#[tokio::test]
async fn a_refresh_after_verification_carries_the_new_email_verified_claim() {
    let stack = TestStack::new().await.expect("stack");
    let email = unique_email("claims");
    let token = registered(&stack, &email).await;
    let login =
        body_json(&call::login(&stack.state, &email, capecontrol_tests::STRONG_PASSWORD).await);
    assert_eq!(verify(&stack, &token).await, 204);

    let refresh = capecontrol_tests::token(&login, "refresh_token");
    let response = call::refresh(&stack.state, &refresh).await;
    assert_eq!(response.status(), 200, "{}", body_json(&response));
    let access = capecontrol_tests::token(&body_json(&response), "access_token");
    let claims = stack
        .state
        .tokens
        .verify(&access, &stack.state.keys)
        .await
        .expect("valid");
    assert!(claims.email_verified);
    let next = capecontrol_tests::token(&body_json(&response), "refresh_token");
    assert_eq!(
        call::refresh(&stack.state, &next).await.status(),
        200,
        "the successor works"
    );
}
