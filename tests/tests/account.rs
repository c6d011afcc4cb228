//! The account routes against the emulator, each test on a fresh table: profile reads and
//! changes, sessions, export pages, and deletion with every refusal, the erasure it leaves and
//! a purge cut short and resumed.

use aws_sdk_dynamodb::types::AttributeValue;
use capecontrol_shared::db;
use capecontrol_shared::erasure::{self, Budget, Progress, PurgeRun};
use capecontrol_shared::store::deletions::TombstoneItem;
use capecontrol_shared::store::users::{self, Role, UserId};
use capecontrol_tests::account::{export_all, items_mentioning, keys_of, send};
use capecontrol_tests::admin_routes::admin_count;
use capecontrol_tests::earnings::{self, payout, sale, seed_user};
use capecontrol_tests::{
    call, registration, string, token, unique_email, Handler, TestStack, STRONG_PASSWORD,
};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};

struct Signed {
    id: UserId,
    email: String,
    access: String,
    refresh: String,
}

async fn signed_in(stack: &TestStack, tag: &str) -> Signed {
    let email = unique_email(tag);
    let login = call::signed_in(&stack.state, &email).await;
    let access = token(&login, "access_token");
    let (status, me) = send(&stack.state, "GET", "/users/me", None, &access).await;
    assert_eq!(status, 200, "{me}");
    Signed {
        id: UserId::parse(me["user"]["id"].as_str().expect("id")).expect("uuid"),
        email,
        access,
        refresh: token(&login, "refresh_token"),
    }
}

fn codes(body: &Value) -> Vec<(String, String)> {
    body["error"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| {
            let text = |k: &str| f[k].as_str().unwrap_or_default().to_owned();
            (text("field"), text("code"))
        })
        .collect()
}

#[tokio::test]
async fn the_profile_reads_and_changes_only_its_owner_fields() {
    let stack = TestStack::new().await.expect("stack");
    let user = signed_in(&stack, "profile").await;
    let state = &stack.state;
    let (status, me) = send(state, "GET", "/users/me", None, &user.access).await;
    assert_eq!(status, 200);
    assert_eq!(me["user"]["email"], user.email.as_str());
    assert_eq!(me["user"]["first_name"], "Thandi");
    assert!(me["user"].get("token_version").is_none(), "{me}");

    let change = json!({"first_name": "  Lerato ", "last_name": null, "phone": "+27 21 555 0100",
        "experience": "expert"});
    let (status, changed) = send(state, "PATCH", "/users/me", Some(&change), &user.access).await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["user"]["first_name"], "Lerato");
    assert_eq!(changed["user"]["last_name"], Value::Null);
    assert_eq!(changed["user"]["experience"], "expert");
    assert!(changed["user"]["updated_at"].is_string());
    let (_, again) = send(state, "GET", "/users/me", None, &user.access).await;
    assert_eq!(
        again["user"], changed["user"],
        "the answer is what is stored"
    );

    let bad = json!({"email": "x@example.com", "role": "admin", "is_verified": true,
        "website": "ftp://x.example", "phone": "call me", "company": 7, "colour": "red"});
    let (status, refused) = send(state, "PATCH", "/users/me", Some(&bad), &user.access).await;
    assert_eq!(status, 422, "{refused}");
    let mut got = codes(&refused);
    got.sort();
    let mut want: Vec<(String, String)> = [
        ("colour", "unknown_field"),
        ("company", "invalid_type"),
        ("email", "not_writable"),
        ("is_verified", "not_writable"),
        ("phone", "invalid_phone"),
        ("role", "not_writable"),
        ("website", "invalid_url"),
    ]
    .iter()
    .map(|(f, c)| ((*f).to_owned(), (*c).to_owned()))
    .collect();
    want.sort();
    assert_eq!(got, want);
    let (status, empty) = send(state, "PATCH", "/users/me", Some(&json!({})), &user.access).await;
    assert_eq!(
        (status, codes(&empty)[0].1.as_str()),
        (422, "nothing_to_change")
    );
    let (_, unchanged) = send(state, "GET", "/users/me", None, &user.access).await;
    assert_eq!(
        unchanged["user"], changed["user"],
        "a refused change writes nothing"
    );
    assert_eq!(send(state, "GET", "/users/me", None, "").await.0, 401);
    assert_eq!(
        send(state, "POST", "/users/me", None, &user.access).await.0,
        405
    );
}

#[tokio::test]
async fn sessions_are_listed_with_the_current_one_marked_and_end_one_by_one() {
    let stack = TestStack::new().await.expect("stack");
    let state = &stack.state;
    let user = signed_in(&stack, "sessions").await;
    for _ in 0..2 {
        let response = call::login(state, &user.email, STRONG_PASSWORD).await;
        assert_eq!(response.status(), 200);
    }
    let (status, listed) = send(state, "GET", "/auth/sessions", None, &user.access).await;
    assert_eq!(status, 200, "{listed}");
    let sessions = listed["sessions"].as_array().expect("list");
    assert_eq!(sessions.len(), 3);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    assert!(sessions.iter().all(|s| s["ip_address"] == "203.0.113.10"));
    let other = sessions
        .iter()
        .find(|s| s["current"] == false)
        .and_then(|s| s["id"].as_str())
        .expect("another session")
        .to_owned();
    let path = format!("/auth/sessions/{other}");
    assert_eq!(
        send(state, "DELETE", &path, None, &user.access).await.0,
        204
    );
    let (status, again) = send(state, "DELETE", &path, None, &user.access).await;
    assert_eq!(
        (status, again["error"]["code"].as_str()),
        (404, Some("session_not_found"))
    );
    for bad in ["/auth/sessions/not-a-uuid", "/auth/sessions/USER%23x"] {
        assert_eq!(
            send(state, "DELETE", bad, None, &user.access).await.0,
            404,
            "{bad}"
        );
    }
    let (_, listed) = send(state, "GET", "/auth/sessions", None, &user.access).await;
    assert_eq!(listed["sessions"].as_array().map(Vec::len), Some(2));
    // The current session still refreshes; another user cannot end it.
    assert_eq!(call::refresh(state, &user.refresh).await.status(), 200);
    let stranger = signed_in(&stack, "stranger").await;
    let current = listed["sessions"]
        .as_array()
        .and_then(|l| l.iter().find(|s| s["current"] == true))
        .and_then(|s| s["id"].as_str())
        .expect("current")
        .to_owned();
    let path = format!("/auth/sessions/{current}");
    assert_eq!(
        send(state, "DELETE", &path, None, &stranger.access).await.0,
        404
    );
}

fn delete_body(password: &str) -> Value {
    json!({ "current_password": password })
}

#[tokio::test]
async fn a_wrong_password_is_a_counted_failed_login_and_deletes_nothing() {
    let stack = TestStack::with_settings(|s| s.login_throttle.free_failures = 1)
        .await
        .expect("stack");
    let state = &stack.state;
    let user = signed_in(&stack, "wrong").await;
    let body = delete_body("not my password at all");
    let (status, refused) = send(state, "DELETE", "/users/me", Some(&body), &user.access).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (403, Some("invalid_current_password"))
    );
    let failures = stack.items_of("login_failures").await.expect("scan");
    assert_eq!(failures.len(), 1, "counted as a failed login");
    // One free failure: the next check waits, even with the right password.
    let right = delete_body(STRONG_PASSWORD);
    let (status, _) = send(state, "DELETE", "/users/me", Some(&right), &user.access).await;
    assert_eq!(status, 429);
    assert_eq!(
        send(state, "GET", "/users/me", None, &user.access).await.0,
        200
    );
    let (status, _) = send(state, "DELETE", "/users/me", Some(&json!({})), &user.access).await;
    assert_eq!(status, 422);
}

/// A registered developer with an agent that an admin credited and (unless `owed`) paid out.
async fn developer_with_ledger(stack: &TestStack, user: &Signed, agent: &str, owed: bool) {
    let state = &stack.state;
    let admin = seed_user(state, Role::Admin, true).await;
    earnings::set_profile(
        state,
        &user.id,
        "is_verified",
        aws_sdk_dynamodb::types::AttributeValue::Bool(true),
    )
    .await;
    let open = json!({"agent_id": agent, "developer_id": user.id});
    let (status, body) =
        earnings::send(state, "POST", "/earnings/agents", Some(&open), &admin.token).await;
    assert_eq!(status, 201, "{body}");
    for n in 0..3 {
        let body = sale(&user.id, agent, &format!("{agent}-sale-{n}"), "10.00");
        let (status, answer) =
            earnings::send(state, "POST", "/earnings/sales", Some(&body), &admin.token).await;
        assert_eq!(status, 201, "{answer}");
    }
    if !owed {
        let body = payout(&user.id, agent, &format!("{agent}-payout"), "21.00");
        let (status, answer) = earnings::send(
            state,
            "POST",
            "/earnings/payouts",
            Some(&body),
            &admin.token,
        )
        .await;
        assert_eq!(status, 201, "{answer}");
    }
}

#[tokio::test]
async fn a_developer_owed_money_and_the_last_admin_are_refused() {
    let stack = TestStack::new().await.expect("stack");
    let state = &stack.state;
    let developer = signed_in(&stack, "owed").await;
    developer_with_ledger(&stack, &developer, "owed-agent", true).await;
    let body = delete_body(STRONG_PASSWORD);
    let (status, refused) =
        send(state, "DELETE", "/users/me", Some(&body), &developer.access).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (409, Some("unpaid_balance"))
    );
    assert_eq!(
        send(state, "GET", "/users/me", None, &developer.access)
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn the_last_active_admin_cannot_delete_themselves_until_another_exists() {
    let stack = TestStack::new().await.expect("stack");
    let state = &stack.state;
    // The admin tool promotes a registered account (its password matches): the only admin.
    let admin = signed_in(&stack, "admin").await;
    let target = capecontrol_admin::Target {
        dynamo: &state.dynamo,
        table: state.table(),
        hasher: &state.hasher,
        audit_retention: state.settings.audit_retention,
    };
    let email = capecontrol_shared::email::Email::parse(&admin.email).expect("email");
    capecontrol_admin::grant(&target, &email, STRONG_PASSWORD)
        .await
        .expect("grant");
    let login = call::login(state, &admin.email, STRONG_PASSWORD).await;
    let access = token(&capecontrol_tests::body_json(&login), "access_token");
    let body = delete_body(STRONG_PASSWORD);
    let (status, refused) = send(state, "DELETE", "/users/me", Some(&body), &access).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (409, Some("last_admin"))
    );
    assert_eq!(
        admin_count(state).await,
        Some(1),
        "a refusal changes nothing"
    );
    assert_eq!(send(state, "GET", "/users/me", None, &access).await.0, 200);
    seed_user(state, Role::Admin, true).await;
    let (status, deleted) = send(state, "DELETE", "/users/me", Some(&body), &access).await;
    assert_eq!(
        (status, deleted["status"].as_str()),
        (200, Some("deleted")),
        "{deleted}"
    );
    assert_eq!(
        admin_count(state).await,
        Some(1),
        "the deletion left the count"
    );
}

/// `count` more logins of `user`: one session (and refresh token) each.
async fn more_sessions(stack: &TestStack, user: &Signed, count: usize) {
    for _ in 0..count {
        let response = call::login(&stack.state, &user.email, STRONG_PASSWORD).await;
        assert_eq!(response.status(), 200);
    }
}

async fn reset_requests(stack: &TestStack, user: &Signed, count: usize) {
    for _ in 0..count {
        let body = json!({ "email": user.email });
        let response =
            call::post_to(Handler::Reset, &stack.state, "/auth/password-reset", &body).await;
        assert_eq!(response.status(), 202);
    }
}

fn key_of(item: &Value) -> String {
    item["key"].as_str().expect("key").to_owned()
}

#[tokio::test]
async fn deleting_a_busy_account_leaves_nothing_of_it_and_its_export_held_everything_removed() {
    let stack = TestStack::new().await.expect("stack");
    let state = &stack.state;
    let user = signed_in(&stack, "busy").await;
    more_sessions(&stack, &user, 34).await;
    let mut refresh = user.refresh.clone();
    for _ in 0..3 {
        let rotated = call::refresh(state, &refresh).await;
        assert_eq!(rotated.status(), 200);
        refresh = token(&capecontrol_tests::body_json(&rotated), "refresh_token");
    }
    reset_requests(&stack, &user, 3).await;
    developer_with_ledger(&stack, &user, "busy-agent", false).await;
    let change = json!({ "company": "Mokoena AI" });
    assert_eq!(
        send(state, "PATCH", "/users/me", Some(&change), &user.access)
            .await
            .0,
        200
    );

    let (exported, pages) = export_all(state, &user.access).await;
    assert!(pages >= 2, "{pages} pages");
    let keys: Vec<String> = exported.iter().map(key_of).collect();
    let exported_keys: BTreeSet<String> = keys.iter().cloned().collect();
    assert_eq!(exported_keys.len(), keys.len(), "every item exactly once");
    let before = stack.all_items().await.expect("scan");
    let text = serde_json::to_string(&exported).expect("json");
    for item in &before {
        let pk = string(item, "pk").unwrap_or_default();
        if let Some(hash) = ["REFRESH#", "RESET#", "VERIFY#"]
            .iter()
            .find_map(|p| pk.strip_prefix(p))
        {
            assert!(!text.contains(hash), "a token hash in the export");
        }
    }
    assert!(
        !text.contains("password_hash") && !text.contains("argon2"),
        "no password hash"
    );

    let body = delete_body(STRONG_PASSWORD);
    let (status, deleted) = send(state, "DELETE", "/users/me", Some(&body), &user.access).await;
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(deleted["status"], "deleted");
    // The request purges within a time budget; on a loaded machine the schedule may finish it.
    if deleted["purge"] == "pending" {
        let budget = Budget::time(std::time::Duration::from_secs(120));
        let run = erasure::purge_pending(state, budget).await.expect("purge");
        assert_eq!(run.completed, 1);
    } else {
        assert_eq!(deleted["purge"], "complete", "{deleted}");
    }
    let after = stack.all_items().await.expect("scan");

    let removed: BTreeSet<String> = keys_of(&before)
        .difference(&keys_of(&after))
        .cloned()
        .collect();
    let missing: Vec<&String> = removed.difference(&exported_keys).collect();
    assert!(
        missing.is_empty(),
        "removed but never exported: {missing:?}"
    );
    assert!(removed.len() > 35 + 38 + 3 + 4, "{} removed", removed.len());
    let mentioning = items_mentioning(&after, &[user.id.as_str(), &user.email]);
    assert!(mentioning.is_empty(), "left: {mentioning:#?}");
    assert_audit_detached(&before, &after, &user.id);
    let retained: Vec<_> = after
        .iter()
        .filter(|i| string(i, "entity") == Some("retained_entry"))
        .collect();
    assert_eq!(retained.len(), 4, "three sales and a payout kept");
    assert!(retained
        .iter()
        .all(|i| i.contains_key("ttl") && !i.contains_key("developer_id")));
    assert_eq!(
        stack.items_of("account_purge").await.expect("scan").len(),
        0
    );

    // Dead at once: old tokens refused, the address free for a new account.
    assert_eq!(
        send(state, "GET", "/users/me", None, &user.access).await.0,
        401
    );
    assert_eq!(call::refresh(state, &refresh).await.status(), 401);
    assert_eq!(
        call::login(state, &user.email, STRONG_PASSWORD)
            .await
            .status(),
        401
    );
    let again = call::register(state, &registration(&user.email)).await;
    assert_eq!(again.status(), 202);
    assert_eq!(
        call::login(state, &user.email, STRONG_PASSWORD)
            .await
            .status(),
        200
    );
}

/// Entries by the user lost the user and their personal fields; exactly one
/// `account_deleted` entry, naming no one.
fn assert_audit_detached(
    before: &[capecontrol_shared::store::Item],
    after: &[capecontrol_shared::store::Item],
    user: &UserId,
) {
    let theirs: BTreeSet<String> = before
        .iter()
        .filter(|i| string(i, "entity") == Some("audit"))
        .filter(|i| string(i, "user_id") == Some(user.as_str()))
        .map(capecontrol_tests::account::export_key)
        .collect();
    assert!(theirs.len() > 40, "{} entries", theirs.len());
    let kept: Vec<_> = after
        .iter()
        .filter(|i| theirs.contains(&capecontrol_tests::account::export_key(i)))
        .collect();
    assert_eq!(kept.len(), theirs.len(), "audit entries stay");
    for entry in kept {
        for gone in ["user_id", "gsi1pk", "ip_address", "user_agent"] {
            assert!(!entry.contains_key(gone), "{gone} kept: {entry:?}");
        }
    }
    let closing: Vec<_> = after
        .iter()
        .filter(|i| string(i, "event_type") == Some("account_deleted"))
        .collect();
    assert_eq!(closing.len(), 1);
    assert!(!closing[0].contains_key("ip_address") && !closing[0].contains_key("user_id"));
}

#[tokio::test]
async fn a_purge_cut_short_anywhere_is_finished_by_running_it_again() {
    let stack = TestStack::with_settings(|s| s.deletion_budget = std::time::Duration::ZERO)
        .await
        .expect("stack");
    let state = &stack.state;
    let user = signed_in(&stack, "cut").await;
    more_sessions(&stack, &user, 4).await;
    reset_requests(&stack, &user, 2).await;
    developer_with_ledger(&stack, &user, "cut-agent", false).await;
    let body = delete_body(STRONG_PASSWORD);
    let (status, deleted) = send(state, "DELETE", "/users/me", Some(&body), &user.access).await;
    assert_eq!(
        (status, deleted["purge"].as_str()),
        (200, Some("pending")),
        "{deleted}"
    );
    assert_eq!(
        call::login(state, &user.email, STRONG_PASSWORD)
            .await
            .status(),
        401
    );
    assert_eq!(
        send(state, "GET", "/users/me", None, &user.access).await.0,
        401
    );
    assert!(
        !items_mentioning(&stack.all_items().await.expect("scan"), &[user.id.as_str()]).is_empty()
    );

    let tomb = erasure::tombstone(state, &user.id)
        .await
        .expect("read")
        .expect("tombstone");
    let mut cut_short = 0;
    loop {
        let mut budget = Budget::transactions(1);
        match erasure::purge(state, &tomb, &mut budget)
            .await
            .expect("purge")
        {
            Progress::Complete => break,
            Progress::Pending => cut_short += 1,
        }
        assert!(cut_short < 200, "the purge makes progress");
    }
    assert!(
        cut_short >= 6,
        "one transaction per run: {cut_short} runs cut short"
    );
    // Running it again once done changes nothing and writes no second closing entry.
    let mut budget = Budget::transactions(10);
    assert_eq!(
        erasure::purge(state, &tomb, &mut budget)
            .await
            .expect("rerun"),
        Progress::Complete
    );
    let after = stack.all_items().await.expect("scan");
    let mentioning: Vec<_> = items_mentioning(&after, &[user.id.as_str(), &user.email])
        .into_iter()
        // The login refused above counted a failure of the address, now nobody's.
        .filter(|i| string(i, "entity") != Some("login_failures"))
        .collect();
    assert!(mentioning.is_empty(), "left: {mentioning:#?}");
    let closing = after
        .iter()
        .filter(|i| string(i, "event_type") == Some("account_deleted"))
        .count();
    assert_eq!(closing, 1);
}

#[tokio::test]
async fn the_scheduled_purge_finishes_every_pending_deletion() {
    let stack = TestStack::with_settings(|s| s.deletion_budget = std::time::Duration::ZERO)
        .await
        .expect("stack");
    let state = &stack.state;
    let mut users = Vec::new();
    for tag in ["first", "second"] {
        let user = signed_in(&stack, tag).await;
        more_sessions(&stack, &user, 2).await;
        let body = delete_body(STRONG_PASSWORD);
        let (status, _) = send(state, "DELETE", "/users/me", Some(&body), &user.access).await;
        assert_eq!(status, 200);
        users.push(user);
    }
    assert_eq!(erasure::pending(state, 10).await.expect("pending").len(), 2);
    let run = purge::run(state, Budget::time(std::time::Duration::from_secs(60)))
        .await
        .expect("run");
    assert_eq!(run.completed, 2);
    assert!(erasure::pending(state, 10)
        .await
        .expect("pending")
        .is_empty());
    let after = stack.all_items().await.expect("scan");
    for user in &users {
        assert!(items_mentioning(&after, &[user.id.as_str(), &user.email]).is_empty());
    }
}

/// A tombstone older than every other whose purge fails (here: a damaged earnings record in its
/// partition) is counted as failed and skipped; the deletions behind it are still finished.
#[tokio::test]
async fn a_purge_that_fails_does_not_hold_up_the_deletions_behind_it() {
    let stack = TestStack::with_settings(|s| s.deletion_budget = std::time::Duration::ZERO)
        .await
        .expect("stack");
    let state = &stack.state;
    let damaged = UserId::generate();
    let tomb = TombstoneItem::new(&damaged, "gone@example.com", "2000-01-01T00:00:00Z");
    db::put_one(&state.dynamo, state.table(), &tomb)
        .await
        .expect("tombstone");
    let broken_record = HashMap::from([
        ("pk".to_owned(), AttributeValue::S(users::pk(&damaged))),
        (
            "sk".to_owned(),
            AttributeValue::S("EARNINGS#not a valid id".into()),
        ),
    ]);
    stack
        .dynamo()
        .put_item()
        .table_name(state.table())
        .set_item(Some(broken_record))
        .send()
        .await
        .expect("damaged record");
    let user = signed_in(&stack, "behind").await;
    let body = delete_body(STRONG_PASSWORD);
    let (status, _) = send(state, "DELETE", "/users/me", Some(&body), &user.access).await;
    assert_eq!(status, 200);
    let budget = || Budget::time(std::time::Duration::from_secs(60));
    let run = erasure::purge_pending(state, budget()).await.expect("run");
    assert_eq!(
        run,
        PurgeRun {
            completed: 1,
            failed: 1
        }
    );
    assert!(
        purge::run(state, budget()).await.is_err(),
        "a failed purge fails the run"
    );
    let left = erasure::pending(state, 10).await.expect("pending");
    assert_eq!(
        left.iter().map(|t| &t.user_id).collect::<Vec<_>>(),
        vec![&damaged]
    );
    let after = stack.all_items().await.expect("scan");
    assert!(items_mentioning(&after, &[user.id.as_str(), &user.email]).is_empty());
}

#[tokio::test]
async fn export_cursors_are_signed_and_bound_to_their_user() {
    let stack = TestStack::new().await.expect("stack");
    let state = &stack.state;
    let user = signed_in(&stack, "cursor").await;
    more_sessions(&stack, &user, 60).await;
    let other = signed_in(&stack, "other").await;
    let (status, first) = send(state, "GET", "/users/me/export", None, &user.access).await;
    assert_eq!(status, 200);
    assert_eq!(first["items"].as_array().map(Vec::len), Some(100));
    let next = first["next"].as_str().expect("a second page").to_owned();
    let theirs = format!("/users/me/export?cursor={next}");
    let (status, refused) = send(state, "GET", &theirs, None, &other.access).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (400, Some("invalid_cursor"))
    );
    let edited = format!("/users/me/export?cursor=x{next}");
    assert_eq!(send(state, "GET", &edited, None, &user.access).await.0, 400);
    for (query, code) in [
        (
            format!("cursor={next}&cursor={next}"),
            "repeated_query_parameter",
        ),
        (format!("cursor={next}&limit=5"), "unknown_query_parameter"),
    ] {
        let path = format!("/users/me/export?{query}");
        let (status, refused) = send(state, "GET", &path, None, &user.access).await;
        assert_eq!(
            (status, refused["error"]["code"].as_str()),
            (400, Some(code))
        );
    }
    let (status, second) = send(state, "GET", &theirs, None, &user.access).await;
    assert_eq!(status, 200);
    let firsts: BTreeSet<String> = first["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(key_of)
        .collect();
    assert!(second["items"]
        .as_array()
        .expect("items")
        .iter()
        .all(|i| !firsts.contains(&key_of(i))));
}
