//! Password reset and change, reading the mail back from the emulator.

use capecontrol_tests::call::{self, post_bearer, post_to};
use capecontrol_tests::STRONG_PASSWORD;
use capecontrol_tests::{body_json, mails_to, token, unique_email, Handler, TestStack};
use lambda_http::Body;
use serde_json::json;

const NEW_PASSWORD: &str = "copper lantern hums below 7 dunes";

async fn request_reset(stack: &TestStack, email: &str) -> lambda_http::Response<Body> {
    post_to(
        Handler::Reset,
        &stack.state,
        "/auth/password-reset",
        &json!({"email": email}),
    )
    .await
}

async fn confirm(stack: &TestStack, token: &str, password: &str) -> lambda_http::Response<Body> {
    let body = json!({"token": token, "new_password": password});
    post_to(
        Handler::Reset,
        &stack.state,
        "/auth/password-reset/confirm",
        &body,
    )
    .await
}

async fn reset_token(email: &str) -> String {
    let mails = mails_to(email).await.expect("mails");
    let reset = mails
        .iter()
        .rev()
        .find(|m| m.subject == "Reset your CapeControl password");
    reset
        .and_then(|m| m.token())
        .expect("a reset mail with a token")
}

fn raw(response: &lambda_http::Response<Body>) -> String {
    match response.body() {
        Body::Text(text) => text.clone(),
        _ => String::new(),
    }
}

#[tokio::test]
async fn reset_answers_byte_identically_for_known_and_unknown_addresses() {
    let stack = TestStack::new().await.expect("stack");
    let known = unique_email("known");
    call::signed_in(&stack.state, &known).await;
    let a = request_reset(&stack, &known).await;
    let b = request_reset(&stack, &unique_email("unknown")).await;
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (202, 202));
    assert_eq!(raw(&a), raw(&b));
    let link = mails_to(&known)
        .await
        .expect("mails")
        .last()
        .and_then(|m| m.link())
        .expect("link");
    assert!(
        link.starts_with("https://app.capecontrol.example/reset-password?token="),
        "{link}"
    );
}

#[tokio::test]
async fn confirming_sets_the_password_ends_every_session_and_mails_the_owner() {
    let stack = TestStack::new().await.expect("stack");
    let email = unique_email("reset");
    let session = call::signed_in(&stack.state, &email).await;
    request_reset(&stack, &email).await;
    let reset = reset_token(&email).await;

    let response = confirm(&stack, &reset, NEW_PASSWORD).await;
    assert_eq!(response.status(), 204, "{}", body_json(&response));
    assert_eq!(raw(&response), "", "not signed in by a reset");
    assert_eq!(
        call::refresh(&stack.state, &token(&session, "refresh_token"))
            .await
            .status(),
        401
    );
    let stale = call::logout_all(&stack.state, &token(&session, "access_token")).await;
    assert_eq!(
        stale.status(),
        401,
        "access tokens from before the reset are refused"
    );
    assert_eq!(
        call::login(&stack.state, &email, STRONG_PASSWORD)
            .await
            .status(),
        401
    );
    assert_eq!(
        call::login(&stack.state, &email, NEW_PASSWORD)
            .await
            .status(),
        200
    );
    let last = mails_to(&email)
        .await
        .expect("mails")
        .pop()
        .expect("a mail");
    assert_eq!(last.subject, "Your CapeControl password was changed");
    let sessions = stack.items_of("session").await.expect("scan");
    assert_eq!(
        sessions
            .iter()
            .filter(|s| s.contains_key("revoked_at"))
            .count(),
        1
    );
}

#[tokio::test]
async fn used_superseded_expired_and_garbage_tokens_get_one_answer() {
    let stack = TestStack::new().await.expect("stack");
    let email = unique_email("tokens");
    call::signed_in(&stack.state, &email).await;
    request_reset(&stack, &email).await;
    let superseded = reset_token(&email).await;
    request_reset(&stack, &email).await;
    let used = reset_token(&email).await;
    assert_eq!(confirm(&stack, &used, NEW_PASSWORD).await.status(), 204);

    let short = TestStack::with_settings(|s| s.reset_token_ttl = time::Duration::seconds(1))
        .await
        .expect("stack");
    let late_email = unique_email("late");
    call::signed_in(&short.state, &late_email).await;
    request_reset(&short, &late_email).await;
    let expired = reset_token(&late_email).await;
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;

    let again = "another fine phrase 93 owls";
    let answers = [
        confirm(&stack, &used, again).await,
        confirm(&stack, &superseded, again).await,
        confirm(&short, &expired, again).await,
        confirm(&stack, "garbage", again).await,
    ];
    for answer in &answers {
        assert_eq!(answer.status(), 400);
        assert_eq!(raw(answer), raw(&answers[0]));
    }
    assert_eq!(
        body_json(&answers[0])["error"]["code"],
        "invalid_reset_token"
    );
    assert_eq!(
        call::login(&stack.state, &email, NEW_PASSWORD)
            .await
            .status(),
        200
    );
    assert_eq!(
        call::login(&short.state, &late_email, STRONG_PASSWORD)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn a_weak_new_password_is_422_and_leaves_the_token_usable() {
    let stack = TestStack::new().await.expect("stack");
    let email = unique_email("weak");
    call::signed_in(&stack.state, &email).await;
    request_reset(&stack, &email).await;
    let reset = reset_token(&email).await;
    let weak = confirm(&stack, &reset, "password1234").await;
    assert_eq!(weak.status(), 422);
    assert_eq!(
        body_json(&weak)["error"]["fields"][0]["field"],
        "new_password"
    );
    assert_eq!(confirm(&stack, &reset, NEW_PASSWORD).await.status(), 204);
}

#[tokio::test]
async fn changing_the_password_keeps_this_session_and_ends_the_others() {
    let stack = TestStack::new().await.expect("stack");
    let email = unique_email("change");
    let here = call::signed_in(&stack.state, &email).await;
    let elsewhere = body_json(&call::login(&stack.state, &email, STRONG_PASSWORD).await);

    let body = json!({"current_password": STRONG_PASSWORD, "new_password": NEW_PASSWORD});
    let response = post_bearer(
        &stack.state,
        "/auth/password/change",
        &token(&here, "access_token"),
        &body,
    )
    .await;
    assert_eq!(response.status(), 200, "{}", body_json(&response));
    let fresh = body_json(&response);

    assert_eq!(
        call::refresh(&stack.state, &token(&elsewhere, "refresh_token"))
            .await
            .status(),
        401
    );
    assert_eq!(
        call::refresh(&stack.state, &token(&here, "refresh_token"))
            .await
            .status(),
        401
    );
    assert_eq!(
        call::refresh(&stack.state, &token(&fresh, "refresh_token"))
            .await
            .status(),
        200
    );
    let stale = call::logout_all(&stack.state, &token(&here, "access_token")).await;
    assert_eq!(stale.status(), 401);
    assert_eq!(
        call::login(&stack.state, &email, NEW_PASSWORD)
            .await
            .status(),
        200
    );
    let last = mails_to(&email)
        .await
        .expect("mails")
        .pop()
        .expect("a mail");
    assert_eq!(last.subject, "Your CapeControl password was changed");
}

#[tokio::test]
async fn a_wrong_current_password_changes_nothing_and_counts_as_a_failed_login() {
    let stack = TestStack::new().await.expect("stack");
    let email = unique_email("wrong");
    let here = call::signed_in(&stack.state, &email).await;
    let body = json!({"current_password": "not my password at all", "new_password": NEW_PASSWORD});
    let response = post_bearer(
        &stack.state,
        "/auth/password/change",
        &token(&here, "access_token"),
        &body,
    )
    .await;
    assert_eq!(response.status(), 403);
    assert_eq!(
        body_json(&response)["error"]["code"],
        "invalid_current_password"
    );
    assert_eq!(
        call::login(&stack.state, &email, STRONG_PASSWORD)
            .await
            .status(),
        200
    );
    let failures = stack.items_of("audit").await.expect("scan");
    let failed = failures
        .iter()
        .filter(|a| capecontrol_tests::string(a, "event_type") == Some("login_failed"))
        .count();
    assert_eq!(failed, 1);
}

#[tokio::test]
async fn password_change_needs_a_current_access_token() {
    let stack = TestStack::new().await.expect("stack");
    let body = json!({"current_password": STRONG_PASSWORD, "new_password": NEW_PASSWORD});
    let response = post_bearer(&stack.state, "/auth/password/change", "garbage", &body).await;
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn reset_requests_over_the_limit_answer_alike_and_send_nothing() {
    let stack = TestStack::new().await.expect("stack");
    let email = unique_email("flood");
    call::signed_in(&stack.state, &email).await;
    let limit = stack.state.settings.rate_limits.per_email.max;
    let mut bodies = Vec::new();
    for _ in 0..limit + 2 {
        let response = request_reset(&stack, &email).await;
        assert_eq!(response.status(), 202);
        bodies.push(raw(&response));
    }
    assert!(bodies.iter().all(|b| *b == bodies[0]));
    let resets = mails_to(&email).await.expect("mails");
    let sent = resets
        .iter()
        .filter(|m| m.subject == "Reset your CapeControl password")
        .count();
    assert_eq!(sent, usize::try_from(limit).expect("small"));
}
