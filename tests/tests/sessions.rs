//! Refresh rotation, replay detection, logout and logout-all against the emulator.

use capecontrol_tests::{body_json, call, string, token, TestStack};
use std::time::Duration;

const GRACE: Duration = Duration::from_secs(1);

async fn short_grace_stack() -> TestStack {
    TestStack::with_settings(|s| s.refresh_grace = time::Duration::seconds(1))
        .await
        .expect("stack")
}

fn sid(stack: &TestStack, access_token: &str) -> String {
    let kid = stack.state.tokens.checked_kid(access_token).expect("kid");
    assert!(!kid.is_empty());
    let payload = access_token.split('.').nth(1).expect("payload");
    let bytes = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload);
    let claims: serde_json::Value = serde_json::from_slice(&bytes.expect("base64")).expect("json");
    claims["sid"].as_str().expect("sid").to_owned()
}

async fn session_revoked(stack: &TestStack) -> Vec<bool> {
    let sessions = stack.items_of("session").await.expect("scan");
    sessions
        .iter()
        .map(|s| s.contains_key("revoked_at"))
        .collect()
}

#[tokio::test]
async fn a_refresh_rotates_the_token_and_keeps_the_session() {
    let stack = short_grace_stack().await;
    let login = call::signed_in(&stack.state, "rotate@example.com").await;
    let first = token(&login, "refresh_token");

    let response = call::refresh(&stack.state, &first).await;
    assert_eq!(response.status(), 200, "{}", body_json(&response));
    assert_eq!(response.headers()["cache-control"], "no-store");
    let next = body_json(&response);
    assert_ne!(token(&next, "refresh_token"), first);
    assert_eq!(
        sid(&stack, &token(&next, "access_token")),
        sid(&stack, &token(&login, "access_token"))
    );
    assert_eq!(
        call::refresh(&stack.state, &token(&next, "refresh_token"))
            .await
            .status(),
        200
    );
    let audited = stack.items_of("audit").await.expect("scan");
    let refreshed = audited
        .iter()
        .filter(|a| string(a, "event_type") == Some("token_refreshed"));
    assert_eq!(refreshed.count(), 2);
}

#[tokio::test]
async fn a_replay_inside_the_grace_window_gets_a_fresh_pair_in_the_same_session() {
    let stack = TestStack::new().await.expect("stack");
    let login = call::signed_in(&stack.state, "tabs@example.com").await;
    let first = token(&login, "refresh_token");
    let a = body_json(&call::refresh(&stack.state, &first).await);
    let b = body_json(&call::refresh(&stack.state, &first).await);
    assert_ne!(token(&a, "refresh_token"), token(&b, "refresh_token"));
    assert_eq!(
        sid(&stack, &token(&a, "access_token")),
        sid(&stack, &token(&b, "access_token"))
    );
    assert_eq!(session_revoked(&stack).await, vec![false]);
}

#[tokio::test]
async fn a_replay_after_the_grace_window_revokes_the_whole_family_and_is_audited() {
    let stack = short_grace_stack().await;
    let login = call::signed_in(&stack.state, "replay@example.com").await;
    let first = token(&login, "refresh_token");
    let child = token(
        &body_json(&call::refresh(&stack.state, &first).await),
        "refresh_token",
    );

    tokio::time::sleep(GRACE + Duration::from_millis(300)).await;
    let replay = call::refresh(&stack.state, &first).await;
    assert_eq!(replay.status(), 401);
    assert_eq!(body_json(&replay)["error"]["code"], "invalid_refresh_token");
    assert_eq!(session_revoked(&stack).await, vec![true]);
    let child_after = call::refresh(&stack.state, &child).await;
    assert_eq!(
        child_after.status(),
        401,
        "the unused child token dies with its family"
    );
    let audit = stack.items_of("audit").await.expect("scan");
    let reuse: Vec<_> = audit
        .iter()
        .filter(|a| string(a, "event_type") == Some("refresh_token_reuse_detected"))
        .collect();
    assert_eq!(reuse.len(), 1);
    assert!(!format!("{audit:?}").contains(&first));
}

#[tokio::test]
async fn unknown_malformed_and_access_tokens_are_not_refresh_tokens() {
    let stack = TestStack::new().await.expect("stack");
    let login = call::signed_in(&stack.state, "wrong@example.com").await;
    let access = token(&login, "access_token");
    for presented in ["", "short", access.as_str(), &"A".repeat(43)] {
        let response = call::refresh(&stack.state, presented).await;
        assert_eq!(response.status(), 401, "{presented:?}");
        assert_eq!(
            body_json(&response)["error"]["code"],
            "invalid_refresh_token"
        );
    }
}

#[tokio::test]
async fn logout_ends_the_session_of_the_presented_token_only() {
    let stack = TestStack::new().await.expect("stack");
    let phone = call::signed_in(&stack.state, "two@example.com").await;
    let laptop = body_json(
        &call::login(
            &stack.state,
            "two@example.com",
            capecontrol_tests::STRONG_PASSWORD,
        )
        .await,
    );
    let response = call::logout(&stack.state, &token(&phone, "refresh_token")).await;
    assert_eq!(response.status(), 204);
    assert_eq!(
        call::refresh(&stack.state, &token(&phone, "refresh_token"))
            .await
            .status(),
        401
    );
    assert_eq!(
        call::refresh(&stack.state, &token(&laptop, "refresh_token"))
            .await
            .status(),
        200
    );
    assert_eq!(
        call::logout(&stack.state, &"B".repeat(43)).await.status(),
        204
    );
}

#[tokio::test]
async fn logout_all_revokes_every_session_and_every_earlier_access_token() {
    let stack = TestStack::new().await.expect("stack");
    let first = call::signed_in(&stack.state, "all@example.com").await;
    let second = body_json(
        &call::login(
            &stack.state,
            "all@example.com",
            capecontrol_tests::STRONG_PASSWORD,
        )
        .await,
    );
    let access = token(&second, "access_token");

    assert_eq!(call::logout_all(&stack.state, &access).await.status(), 204);
    for body in [&first, &second] {
        assert_eq!(
            call::refresh(&stack.state, &token(body, "refresh_token"))
                .await
                .status(),
            401
        );
    }
    let again = call::logout_all(&stack.state, &access).await;
    assert_eq!(
        again.status(),
        401,
        "an access token from before logout-all is refused"
    );
    assert_eq!(body_json(&again)["error"]["code"], "invalid_access_token");
    assert_eq!(session_revoked(&stack).await, vec![true, true]);

    let fresh = body_json(
        &call::login(
            &stack.state,
            "all@example.com",
            capecontrol_tests::STRONG_PASSWORD,
        )
        .await,
    );
    assert_eq!(
        call::refresh(&stack.state, &token(&fresh, "refresh_token"))
            .await
            .status(),
        200
    );
    assert_eq!(
        call::logout_all(&stack.state, &token(&fresh, "access_token"))
            .await
            .status(),
        204
    );
}

#[tokio::test]
async fn logout_all_needs_a_valid_access_token() {
    let stack = TestStack::new().await.expect("stack");
    let login = call::signed_in(&stack.state, "need@example.com").await;
    for presented in ["", "garbage", token(&login, "refresh_token").as_str()] {
        let response = call::logout_all(&stack.state, presented).await;
        assert_eq!(response.status(), 401, "{presented:?}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
    }
}

#[tokio::test]
async fn tokens_signed_before_a_key_rotation_still_verify_and_new_ones_use_the_new_key() {
    let stack = TestStack::new().await.expect("stack");
    let login = call::signed_in(&stack.state, "rotation@example.com").await;
    let old_access = token(&login, "access_token");
    let old_kid = stack.state.tokens.checked_kid(&old_access).expect("kid");
    stack.rotate_signing_key().await.expect("rotate");

    // A new container (fresh key cache) sees the rotation at once.
    let fresh = capecontrol_shared::state::AppState::new(stack.state.settings.clone(), &stack.aws);
    let verified = fresh.tokens.verify(&old_access, &fresh.keys).await;
    assert!(verified.is_ok(), "signed with AWSPREVIOUS, still valid");
    let new_login = body_json(
        &call::login(
            &fresh,
            "rotation@example.com",
            capecontrol_tests::STRONG_PASSWORD,
        )
        .await,
    );
    let new_kid = fresh
        .tokens
        .checked_kid(&token(&new_login, "access_token"))
        .expect("kid");
    assert_ne!(new_kid, old_kid);
    // The warm container meets an unknown kid and refetches once.
    let new_access = token(&new_login, "access_token");
    let warm = stack
        .state
        .tokens
        .verify(&new_access, &stack.state.keys)
        .await;
    assert!(warm.is_ok());
}
