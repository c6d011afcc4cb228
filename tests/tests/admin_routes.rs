//! The admin routes in-process: who may call them, the user listing and its pagination, role
//! and state changes with the last-admin rule (also raced), revocation on deactivation, and the
//! audit queries with their bounds, repeated keys and expired entries.

// The admin handler's future nests deeply enough that computing the layout of `all_pages`
// passes the default query depth (128) once the workspace merges the account work.
#![recursion_limit = "256"]

use aws_sdk_dynamodb::types::AttributeValue;
use capecontrol_shared::audit::AuditEvent;
use capecontrol_shared::clock;
use capecontrol_shared::store::users::{Role, UserId};
use capecontrol_tests::admin_routes::{
    admin_count, code, profile_item, put_audit, refusal, send, send_as, REFUSED_QUERIES,
};
use capecontrol_tests::contract::{Observed, Spec};
use capecontrol_tests::earnings::{self as kit, seed_user, Seeded};
use capecontrol_tests::{body_json, call, string, token, EventKind, TestStack};
use serde_json::{json, Value};
use std::collections::HashSet;
use time::Duration;

const ROUTES: [(&str, &str); 3] = [
    ("GET", "/admin/users"),
    ("PATCH", "/admin/users/0b7e4cf2-5d7a-4f57-9a51-2d4f0c1e9b3a"),
    ("GET", "/admin/audit"),
];

fn patch_body(method: &str) -> Option<Value> {
    (method == "PATCH").then(|| json!({ "is_active": false }))
}

/// Every page of `path` (which has a query string), following `next`: the ids in order.
async fn all_pages(stack: &TestStack, admin: &Seeded, path: &str, list: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut next: Option<String> = None;
    for _ in 0..100 {
        let url = match &next {
            Some(cursor) => format!("{path}&cursor={cursor}"),
            None => path.to_owned(),
        };
        let (status, page) = send(&stack.state, "GET", &url, None, &admin.token).await;
        assert_eq!(status, 200, "{page}");
        let items = page[list].as_array().expect("a list");
        ids.extend(
            items
                .iter()
                .map(|i| i["id"].as_str().expect("id").to_owned()),
        );
        match page["next"].as_str() {
            Some(cursor) => next = Some(cursor.to_owned()),
            None => return ids,
        }
    }
    panic!("more than 100 pages")
}

#[tokio::test]
async fn customers_and_developers_get_403_and_stale_or_missing_tokens_401_on_every_admin_route() {
    let stack = TestStack::new().await.expect("stack");
    let state = &stack.state;
    let customer = seed_user(state, Role::Customer, true).await;
    let developer = seed_user(state, Role::Developer, true).await;
    let admin = seed_user(state, Role::Admin, true).await;
    let stale = kit::access_token(state, &admin.id, Role::Admin, 0).await;
    kit::set_profile(
        state,
        &admin.id,
        "token_version",
        AttributeValue::N("1".into()),
    )
    .await;
    for (method, path) in ROUTES {
        let body = patch_body(method);
        for caller in [&customer, &developer] {
            let (status, answer) = send(state, method, path, body.as_ref(), &caller.token).await;
            assert_eq!(
                (status, code(&answer)),
                (403, "forbidden"),
                "{method} {path}"
            );
        }
        for bad in ["", stale.as_str()] {
            let (status, answer) = send(state, method, path, body.as_ref(), bad).await;
            assert_eq!((status, code(&answer)), (401, "invalid_access_token"));
        }
    }
    let forged_role = kit::access_token(state, &customer.id, Role::Admin, 0).await;
    let (status, _) = send(state, "GET", "/admin/users", None, &forged_role).await;
    assert_eq!(
        status, 403,
        "a token's role claim counts for nothing; the item's role does"
    );
}

#[tokio::test]
async fn users_are_listed_newest_first_each_exactly_once_over_several_pages_and_filtered() {
    let stack = TestStack::new().await.expect("stack");
    let state = &stack.state;
    let admin = seed_user(state, Role::Admin, true).await;
    let mut seeded = vec![(profile_item(state, &admin.id).await, admin.id.clone())];
    for role in [
        Role::Customer,
        Role::Developer,
        Role::Customer,
        Role::Developer,
    ] {
        for _ in 0..2 {
            let user = seed_user(state, role, true).await;
            seeded.push((profile_item(state, &user.id).await, user.id));
        }
    }
    let off = &seeded[1].1;
    kit::set_profile(state, off, "is_active", AttributeValue::Bool(false)).await;
    let inactive_key = AttributeValue::S("USERS#customer#inactive".into());
    kit::set_profile(state, off, "gsi1pk", inactive_key).await;
    let mut newest_first: Vec<(String, String)> = seeded
        .iter()
        .map(|(item, id)| {
            (
                string(item, "gsi1sk").expect("sk").to_owned(),
                id.to_string(),
            )
        })
        .collect();
    newest_first.sort_by(|a, b| b.0.cmp(&a.0));
    let expected: Vec<String> = newest_first.into_iter().map(|(_, id)| id).collect();

    let listed = all_pages(&stack, &admin, "/admin/users?limit=2", "users").await;
    assert_eq!(
        listed, expected,
        "every user once, newest first, across six partitions"
    );

    let developers = all_pages(
        &stack,
        &admin,
        "/admin/users?role=developer&limit=3",
        "users",
    );
    assert_eq!(developers.await.len(), 4);
    let inactive = all_pages(&stack, &admin, "/admin/users?active=false", "users").await;
    assert_eq!(inactive, vec![off.to_string()]);
    let created = string(&seeded[5].0, "created_at")
        .expect("created_at")
        .to_owned();
    let since = format!("/admin/users?created_from={created}&limit=1");
    let recent = all_pages(&stack, &admin, &since, "users").await;
    let created_of = |id: &String| {
        let item = &seeded
            .iter()
            .find(|(_, s)| s.as_str() == id)
            .expect("seeded")
            .0;
        string(item, "created_at").expect("created_at").to_owned()
    };
    let wanted: Vec<String> = expected
        .iter()
        .filter(|id| created_of(id) >= created)
        .cloned()
        .collect();
    assert_eq!(recent, wanted, "created_from is inclusive");
    let until = format!("/admin/users?created_to={created}");
    let older = all_pages(&stack, &admin, &until, "users").await;
    assert_eq!(
        older.len() + recent.len(),
        expected.len(),
        "created_to is exclusive"
    );
}

#[tokio::test]
async fn a_cursor_works_only_with_the_filters_it_was_issued_for() {
    let stack = TestStack::new().await.expect("stack");
    let state = &stack.state;
    let admin = seed_user(state, Role::Admin, true).await;
    for _ in 0..3 {
        seed_user(state, Role::Developer, true).await;
    }
    let (_, first) = send(state, "GET", "/admin/users?limit=1", None, &admin.token).await;
    let cursor = first["next"].as_str().expect("a next cursor");
    for path in [
        format!("/admin/users?role=developer&limit=1&cursor={cursor}"),
        format!(
            "/admin/users?limit=1&cursor={}x",
            &cursor[..cursor.len() - 1]
        ),
        format!("/admin/audit?cursor={cursor}"),
    ] {
        let (status, answer) = send(state, "GET", &path, None, &admin.token).await;
        assert_eq!((status, code(&answer)), (400, "invalid_cursor"), "{path}");
    }
}

#[tokio::test]
async fn repeated_and_unknown_query_keys_are_400_and_bad_values_422_in_every_event_shape() {
    let stack = TestStack::new().await.expect("stack");
    let state = &stack.state;
    let admin = seed_user(state, Role::Admin, true).await;
    for kind in EventKind::ALL {
        for (path, status, expected) in REFUSED_QUERIES {
            let (got, answer) = send_as(state, kind, "GET", path, None, &admin.token).await;
            assert_eq!(
                (got, refusal(got, &answer)),
                (status, expected),
                "{kind:?} {path}"
            );
        }
    }
}

#[tokio::test]
async fn a_role_change_keeps_profile_credentials_and_listing_key_in_step_and_is_audited() {
    let stack = TestStack::new().await.expect("stack");
    let state = &stack.state;
    let admin = seed_user(state, Role::Admin, true).await;
    let developer = seed_user(state, Role::Developer, true).await;
    let path = format!("/admin/users/{}", developer.id);
    let body = json!({ "role": "customer" });
    let (status, answer) = send(state, "PATCH", &path, Some(&body), &admin.token).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["user"]["role"], "customer");

    let profile = profile_item(state, &developer.id).await;
    assert_eq!(string(&profile, "role"), Some("customer"));
    assert_eq!(string(&profile, "gsi1pk"), Some("USERS#customer#active"));
    assert_eq!(profile["token_version"], AttributeValue::N("1".into()));
    let credentials = stack.items_of("credentials").await.expect("scan");
    let copy = credentials
        .iter()
        .find(|c| string(c, "user_id") == Some(developer.id.as_str()))
        .expect("credentials");
    assert_eq!(string(copy, "role"), Some("customer"));
    assert_eq!(copy["token_version"], AttributeValue::N("1".into()));
    let (status, _) = kit::send(state, "GET", "/earnings", None, &developer.token).await;
    assert_eq!(status, 401, "the old token is stale");

    let entries = stack.items_of("audit").await.expect("scan");
    let changed = entries
        .iter()
        .find(|e| string(e, "event_type") == Some("admin_user_changed"))
        .expect("audited");
    assert_eq!(string(changed, "user_id"), Some(admin.id.as_str()));
    let metadata = string(changed, "metadata").expect("metadata");
    assert!(metadata.contains(developer.id.as_str()), "{metadata}");
    assert_eq!(admin_count(state).await, Some(1), "no admin made or unmade");

    for (body, status, error) in [
        (json!({}), 422, "validation_failed"),
        (json!({ "role": "root" }), 422, "validation_failed"),
        (json!({ "is_active": "no" }), 422, "validation_failed"),
        (
            json!({ "email": "x@example.com" }),
            422,
            "validation_failed",
        ),
    ] {
        let (got, answer) = send(state, "PATCH", &path, Some(&body), &admin.token).await;
        assert_eq!((got, code(&answer)), (status, error), "{body}");
    }
    let missing = format!("/admin/users/{}", UserId::generate());
    let (got, answer) = send(state, "PATCH", &missing, Some(&body), &admin.token).await;
    assert_eq!((got, code(&answer)), (404, "user_not_found"));
    let (got, _) = send(
        state,
        "PATCH",
        "/admin/users/nope",
        Some(&body),
        &admin.token,
    )
    .await;
    assert_eq!(got, 404);
}

#[tokio::test]
async fn deactivation_revokes_sessions_refresh_tokens_and_access_tokens_where_state_is_checked() {
    let stack = TestStack::new().await.expect("stack");
    let state = &stack.state;
    let admin = seed_user(state, Role::Admin, true).await;
    let email = capecontrol_tests::unique_email("leaver");
    let first = call::signed_in(state, &email).await;
    let second = call::login(state, &email, capecontrol_tests::STRONG_PASSWORD).await;
    let second = body_json(&second);
    let sessions = stack.items_of("session").await.expect("scan");
    let user = string(&sessions[0], "user_id").expect("user id");
    let path = format!("/admin/users/{user}");

    let off = json!({ "is_active": false });
    let (status, answer) = send(state, "PATCH", &path, Some(&off), &admin.token).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["user"]["is_active"], false);
    for session in stack.items_of("session").await.expect("scan") {
        assert_eq!(string(&session, "revoked_reason"), Some("deactivated"));
    }
    for pair in [&first, &second] {
        let refreshed = call::refresh(state, &token(pair, "refresh_token")).await;
        assert_eq!(refreshed.status(), 401);
        let all = call::logout_all(state, &token(pair, "access_token")).await;
        assert_eq!(
            all.status(),
            401,
            "the access token is refused where state is checked"
        );
    }
    let login = call::login(state, &email, capecontrol_tests::STRONG_PASSWORD).await;
    assert_eq!(login.status(), 403);

    let on = json!({ "is_active": true });
    let (status, _) = send(state, "PATCH", &path, Some(&on), &admin.token).await;
    assert_eq!(status, 200);
    let login = call::login(state, &email, capecontrol_tests::STRONG_PASSWORD).await;
    assert_eq!(login.status(), 200, "reactivated");
}

#[tokio::test]
async fn the_last_active_admin_can_be_neither_demoted_nor_deactivated() {
    let stack = TestStack::new().await.expect("stack");
    let state = &stack.state;
    let first = seed_user(state, Role::Admin, true).await;
    let own = format!("/admin/users/{}", first.id);
    for body in [
        json!({ "role": "developer" }),
        json!({ "is_active": false }),
    ] {
        let (status, answer) = send(state, "PATCH", &own, Some(&body), &first.token).await;
        assert_eq!((status, code(&answer)), (409, "last_admin"), "{body}");
    }
    assert_eq!(
        string(&profile_item(state, &first.id).await, "role"),
        Some("admin")
    );

    let second = seed_user(state, Role::Developer, true).await;
    let promote = json!({ "role": "admin" });
    let other = format!("/admin/users/{}", second.id);
    let (status, _) = send(state, "PATCH", &other, Some(&promote), &first.token).await;
    assert_eq!(status, 200);
    assert_eq!(admin_count(state).await, Some(2));
    let second_token = kit::access_token(state, &second.id, Role::Admin, 1).await;
    let demote = json!({ "role": "customer" });
    let (status, _) = send(state, "PATCH", &own, Some(&demote), &second_token).await;
    assert_eq!(status, 200, "one admin remains");
    assert_eq!(admin_count(state).await, Some(1));
    let (status, answer) = send(state, "PATCH", &other, Some(&demote), &second_token).await;
    assert_eq!((status, code(&answer)), (409, "last_admin"));
    let (status, _) = send(state, "PATCH", &other, Some(&demote), &first.token).await;
    assert_eq!(status, 401, "the demoted admin's token is stale");
}

#[tokio::test]
async fn two_admins_demoting_each_other_at_once_leave_exactly_one_admin() {
    for _ in 0..3 {
        let stack = TestStack::new().await.expect("stack");
        let state = &stack.state;
        let a = seed_user(state, Role::Admin, true).await;
        let b = seed_user(state, Role::Admin, true).await;
        let demote = json!({ "role": "developer" });
        let (a_path, b_path) = (
            format!("/admin/users/{}", b.id),
            format!("/admin/users/{}", a.id),
        );
        let (first, second) = tokio::join!(
            send(state, "PATCH", &a_path, Some(&demote), &a.token),
            send(state, "PATCH", &b_path, Some(&demote), &b.token),
        );
        let statuses = [first.0, second.0];
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "{first:?} {second:?}"
        );
        let loser = if first.0 == 200 { &second } else { &first };
        assert!(
            code(&loser.1) == "last_admin" || code(&loser.1) == "invalid_access_token",
            "{loser:?}"
        );
        let roles = [
            profile_item(state, &a.id).await,
            profile_item(state, &b.id).await,
        ];
        let admins = roles.iter().filter(|p| string(p, "role") == Some("admin"));
        assert_eq!(admins.count(), 1);
        assert_eq!(admin_count(state).await, Some(1));
    }
}

#[tokio::test]
async fn audit_entries_are_queried_by_user_event_and_outcome_each_once_across_pages_and_days() {
    let stack = TestStack::new().await.expect("stack");
    let state = &stack.state;
    let admin = seed_user(state, Role::Admin, true).await;
    let user = seed_user(state, Role::Developer, true).await;
    let now = clock::now();
    let keep = Duration::days(365);
    let mut ids = Vec::new();
    for hours in [1, 5, 26, 30, 50, 75, 99] {
        let at = now - Duration::hours(hours);
        ids.push(put_audit(state, &user.id, AuditEvent::LoginSucceeded, at, keep).await);
    }
    let other = UserId::generate();
    put_audit(
        state,
        &other,
        AuditEvent::LogoutAll,
        now - Duration::hours(2),
        keep,
    )
    .await;
    let expired = now - Duration::hours(3);
    let gone = put_audit(
        state,
        &user.id,
        AuditEvent::LoginSucceeded,
        expired,
        Duration::hours(1),
    );

    let gone = gone.await;
    let by_user = format!("/admin/audit?user_id={}&limit=2", user.id);
    assert_eq!(all_pages(&stack, &admin, &by_user, "entries").await, ids);
    let by_event = "/admin/audit?event_type=login_succeeded&limit=3";
    assert_eq!(all_pages(&stack, &admin, by_event, "entries").await, ids);
    let by_outcome = all_pages(
        &stack,
        &admin,
        "/admin/audit?success=true&limit=2",
        "entries",
    );
    let by_outcome = by_outcome.await;
    let unique: HashSet<&String> = by_outcome.iter().collect();
    assert_eq!(unique.len(), by_outcome.len(), "no entry twice");
    assert!(ids.iter().all(|id| unique.contains(id)));
    assert!(!unique.contains(&gone), "an expired entry is skipped");
    let everything = all_pages(&stack, &admin, "/admin/audit?limit=4", "entries").await;
    assert!(!everything.contains(&gone));
    assert_eq!(
        everything.len(),
        everything.iter().collect::<HashSet<_>>().len()
    );

    let failures = all_pages(&stack, &admin, "/admin/audit?success=false", "entries").await;
    assert!(failures.is_empty(), "{failures:?}");
    let old = format!(
        "/admin/audit?user_id={}&to={}",
        user.id,
        clock::rfc3339(now - Duration::hours(40))
    );
    assert_eq!(all_pages(&stack, &admin, &old, "entries").await, ids[4..]);
}

#[tokio::test]
async fn every_admin_action_is_audited_with_the_acting_admin() {
    let stack = TestStack::new().await.expect("stack");
    let state = &stack.state;
    let admin = seed_user(state, Role::Admin, true).await;
    let (status, _) = send(state, "GET", "/admin/users", None, &admin.token).await;
    assert_eq!(status, 200);
    let (status, answer) = send(state, "GET", "/admin/audit", None, &admin.token).await;
    assert_eq!(status, 200);
    let events: Vec<&str> = answer["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["event_type"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(events, ["admin_users_listed"]);
    assert_eq!(answer["entries"][0]["user_id"], admin.id.as_str());
    let audited = stack.items_of("audit").await.expect("scan");
    let read = audited
        .iter()
        .filter(|e| string(e, "event_type") == Some("admin_audit_read"));
    assert_eq!(read.count(), 1);
}

#[tokio::test]
async fn two_admins_stepping_down_at_once_leave_exactly_one_admin() {
    for body in [json!({ "role": "customer" }), json!({ "is_active": false })] {
        let stack = TestStack::new().await.expect("stack");
        let state = &stack.state;
        let a = seed_user(state, Role::Admin, true).await;
        let b = seed_user(state, Role::Admin, true).await;
        let (a_path, b_path) = (
            format!("/admin/users/{}", a.id),
            format!("/admin/users/{}", b.id),
        );
        let (first, second) = tokio::join!(
            send(state, "PATCH", &a_path, Some(&body), &a.token),
            send(state, "PATCH", &b_path, Some(&body), &b.token),
        );
        let mut outcomes = [(first.0, code(&first.1)), (second.0, code(&second.1))];
        outcomes.sort_unstable();
        assert_eq!(outcomes, [(200, ""), (409, "last_admin")], "{body}");
        assert_eq!(admin_count(state).await, Some(1));
    }
}

/// One audit query, its answer checked against openapi.yaml: the status and the entries' ids.
async fn audit_checked(stack: &TestStack, admin: &Seeded, path: &str) -> (u16, Vec<String>) {
    let request = kit::request(EventKind::HttpApiV2, "GET", path, None, &admin.token);
    let response = ::admin::handle(&stack.state, request).await;
    let body = body_json(&response);
    let seen = Observed {
        status: response.status().as_u16(),
        headers: response.headers(),
        body: &body.to_string(),
    };
    if let Err(error) = Spec::repository().check("GET", path, seen) {
        panic!("the answer breaks openapi.yaml: {error:#}");
    }
    let ids = body["entries"]
        .as_array()
        .map(|entries| entries.iter().map(|e| e["id"].to_string()).collect())
        .unwrap_or_default();
    (response.status().as_u16(), ids)
}

#[tokio::test]
async fn the_account_routes_events_are_found_by_event_type_and_listed_as_the_spec_says() {
    let stack = TestStack::new().await.expect("stack");
    let state = &stack.state;
    let admin = seed_user(state, Role::Admin, true).await;
    let user = seed_user(state, Role::Customer, true).await;
    let events = [
        AuditEvent::ProfileUpdated,
        AuditEvent::SessionRevoked,
        AuditEvent::DataExported,
        AuditEvent::AccountDeleted,
    ];
    let at = clock::now() - Duration::minutes(5);
    for event in events {
        let id = put_audit(state, &user.id, event, at, Duration::days(365)).await;
        let path = format!("/admin/audit?event_type={}", event.as_str());
        let (status, ids) = audit_checked(&stack, &admin, &path).await;
        assert_eq!((status, ids), (200, vec![format!("\"{id}\"")]), "{path}");
    }
    let path = format!("/admin/audit?user_id={}", user.id);
    let (status, ids) = audit_checked(&stack, &admin, &path).await;
    assert_eq!((status, ids.len()), (200, events.len()));
}
