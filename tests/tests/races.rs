//! Races run as concurrent in-process handler calls against one emulator (which, like
//! DynamoDB, applies each transaction atomically), and DynamoDB's TransactionConflict injected.

use capecontrol_shared::db;
use capecontrol_tests::{body_json, call, registration, string, token, TestStack};
use futures::future::join_all;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

#[tokio::test]
async fn twenty_concurrent_registrations_of_one_email_create_one_user() {
    let stack = TestStack::with_settings(|s| {
        s.enumeration_safe_registration = false;
        s.rate_limits.per_email.max = 100;
    })
    .await
    .expect("stack");
    let state = &stack.state;
    let attempts = (0..20).map(|i| async move {
        let email = if i % 2 == 0 {
            "race@example.com"
        } else {
            "RACE@example.com"
        };
        call::register(state, &registration(email))
            .await
            .status()
            .as_u16()
    });
    let mut statuses = join_all(attempts).await;
    statuses.sort_unstable();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        19,
        "{statuses:?}"
    );
    assert_eq!(stack.items_of("user").await.expect("scan").len(), 1);
    assert_eq!(stack.items_of("credentials").await.expect("scan").len(), 1);
}

#[tokio::test]
async fn ten_concurrent_refreshes_inside_the_grace_window_all_succeed_and_a_late_replay_revokes_all(
) {
    let stack = TestStack::with_settings(|s| s.refresh_grace = time::Duration::seconds(2))
        .await
        .expect("stack");
    let state = &stack.state;
    let login = call::signed_in(state, "tabs@example.com").await;
    let shared = token(&login, "refresh_token");
    let shared = &shared;

    let refreshes = (0..10).map(|_| async move { call::refresh(state, shared).await });
    let responses = join_all(refreshes).await;
    let children: Vec<String> = responses
        .iter()
        .map(|r| {
            assert_eq!(r.status(), 200, "{}", body_json(r));
            token(&body_json(r), "refresh_token")
        })
        .collect();
    let sessions = stack.items_of("session").await.expect("scan");
    assert!(
        !sessions[0].contains_key("revoked_at"),
        "no revocation inside the window"
    );

    tokio::time::sleep(Duration::from_millis(2_300)).await;
    assert_eq!(call::refresh(state, shared).await.status(), 401);
    for child in &children {
        assert_eq!(
            call::refresh(state, child).await.status(),
            401,
            "every token of the family"
        );
    }
    let sessions = stack.items_of("session").await.expect("scan");
    assert_eq!(
        string(&sessions[0], "revoked_reason"),
        Some("refresh_token_reuse")
    );
}

#[tokio::test]
async fn a_transaction_conflict_is_retried_and_the_write_lands_exactly_once() {
    let stack = TestStack::revealing().await.expect("stack");
    let item = serde_json::json!({"pk": "RACE#1", "sk": "ITEM", "entity": "probe"});
    let items = vec![
        db::put_new(stack.state.table(), &item).expect("put"),
        db::put_new(
            stack.state.table(),
            &serde_json::json!({"pk": "RACE#2", "sk": "ITEM", "entity": "probe"}),
        )
        .expect("put"),
    ];
    let calls = AtomicU32::new(0);
    let result = db::retry_conflicts(|| {
        let call = calls.fetch_add(1, Ordering::SeqCst);
        let send = stack
            .dynamo()
            .transact_write_items()
            .set_transact_items(Some(items.clone()))
            .send();
        async move {
            if call < 2 {
                Err(db::test_support::cancelled(&[
                    "None",
                    "TransactionConflict",
                ]))
            } else {
                send.await
            }
        }
    })
    .await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(stack.items_of("probe").await.expect("scan").len(), 2);
}

#[tokio::test]
async fn twenty_concurrent_enumeration_safe_registrations_make_one_account_and_twenty_mails() {
    let stack = TestStack::with_settings(|s| s.rate_limits.per_email.max = 100)
        .await
        .expect("stack");
    let state = &stack.state;
    let email = capecontrol_tests::unique_email("safe-race");
    let email = &email;
    let attempts = (0..20).map(|_| async move {
        call::register(state, &registration(email))
            .await
            .status()
            .as_u16()
    });
    let statuses = join_all(attempts).await;
    assert!(statuses.iter().all(|s| *s == 202), "{statuses:?}");
    assert_eq!(stack.items_of("user").await.expect("scan").len(), 1);
    let (verifications, attempts) = capecontrol_tests::registration_mail_counts(email)
        .await
        .expect("mails");
    assert_eq!(
        (verifications, attempts),
        (1, 19),
        "one account, nineteen attempts"
    );
}
