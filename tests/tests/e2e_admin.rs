//! End-to-end over HTTP through the running local stack (`make test` starts it and runs these
//! with `--ignored`): the admin routes of `template.yaml` behind the router. The table is the
//! stack's, shared with the other end-to-end binaries, so the last-admin test first demotes
//! every other admin, and listings are checked for this test's users only.

use capecontrol_shared::audit::{AuditEntry, AuditEvent};
use capecontrol_shared::clock;
use capecontrol_shared::request_meta::RequestMeta;
use capecontrol_shared::store::users::UserId;
use capecontrol_tests::admin_routes::{refusal, REFUSED_QUERIES};
use capecontrol_tests::local::Api;
use capecontrol_tests::{registration, unique_email};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::HashSet;

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

/// Every page of `path` (which has a query string), following `next`: the ids in order.
async fn all_pages(api: &Api, token: &str, path: &str, list: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut url = path.to_owned();
    for _ in 0..200 {
        let (status, page) = api.get(&url, token).await;
        assert_eq!(status, 200, "{url}: {page}");
        let items = page[list].as_array().expect("a list");
        ids.extend(
            items
                .iter()
                .map(|i| i["id"].as_str().expect("id").to_owned()),
        );
        match page["next"].as_str() {
            Some(cursor) => url = format!("{path}&cursor={cursor}"),
            None => return ids,
        }
    }
    panic!("more than 200 pages")
}

async fn patch(api: &Api, user: &str, body: &Value, token: &str) -> (u16, Value) {
    let path = format!("/admin/users/{user}");
    api.call(Method::PATCH, &path, Some(body), token).await
}

/// A registered customer's id and login answer.
async fn customer(api: &Api) -> (String, Value) {
    let email = unique_email("customer");
    let mut body = registration(&email);
    body["role"] = json!("customer");
    api.register(&body).await;
    let id = api.user_id(&email).await;
    let login = json!({"email": email, "password": capecontrol_tests::STRONG_PASSWORD});
    let (status, pair) = api.post("/auth/login", &login, "").await;
    assert_eq!(status, 200, "{pair}");
    (id, pair)
}

#[tokio::test]
#[ignore = "needs the running local stack; `make test` runs it"]
async fn customers_and_developers_get_403_from_every_admin_route_over_http() {
    let api = Api::new().await;
    let (_, pair) = customer(&api).await;
    let customer = pair["access_token"].as_str().expect("token").to_owned();
    let (_, developer) = api.developer().await;
    for token in [customer.as_str(), developer.as_str()] {
        for (method, path) in [
            (Method::GET, "/admin/users"),
            (Method::GET, "/admin/audit"),
            (
                Method::PATCH,
                "/admin/users/0b7e4cf2-5d7a-4f57-9a51-2d4f0c1e9b3a",
            ),
        ] {
            let body = json!({"role": "admin"});
            let (status, answer) = api.call(method.clone(), path, Some(&body), token).await;
            assert_eq!(
                (status, code(&answer)),
                (403, "forbidden"),
                "{method} {path}"
            );
        }
    }
    let (status, answer) = api.get("/admin/users", "").await;
    assert_eq!((status, code(&answer)), (401, "invalid_access_token"));
}

#[tokio::test]
#[ignore = "needs the running local stack; `make test` runs it"]
async fn admin_listing_deactivation_audit_and_the_last_admin_rule_over_http() {
    let api = Api::new().await;
    let (first_id, first) = api.admin_with_id().await;
    refused_requests(&api, &first).await;

    let since = clock::rfc3339(clock::now());
    let mut mine = Vec::new();
    for _ in 0..5 {
        mine.push(customer(&api).await);
    }
    let path = format!("/admin/users?role=customer&created_from={since}&limit=2");
    let (_, page) = api.get(&path, &first).await;
    let cursor = page["next"].as_str().expect("five users, pages of two");
    let other = format!("/admin/users?role=developer&created_from={since}&limit=2&cursor={cursor}");
    let (status, answer) = api.get(&other, &first).await;
    assert_eq!(
        (status, code(&answer)),
        (400, "invalid_cursor"),
        "other filters"
    );
    let listed = all_pages(&api, &first, &path, "users").await;
    let unique: HashSet<&String> = listed.iter().collect();
    assert_eq!(unique.len(), listed.len(), "no user twice: {listed:?}");
    assert!(
        mine.iter().all(|(id, _)| unique.contains(id)),
        "every user listed"
    );

    let (leaver, pair) = &mine[0];
    let (status, answer) = patch(&api, leaver, &json!({"is_active": false}), &first).await;
    assert_eq!(status, 200, "{answer}");
    let refresh = json!({"refresh_token": pair["refresh_token"]});
    assert_eq!(api.post("/auth/refresh", &refresh, "").await.0, 401);
    let access = pair["access_token"].as_str().expect("token");
    let (status, _) = api.post("/auth/logout-all", &json!({}), access).await;
    assert_eq!(
        status, 401,
        "the old access token is refused where state is checked"
    );
    let mut changes = 1;

    let admins = all_pages(&api, &first, "/admin/users?role=admin&active=true", "users").await;
    for other in admins.iter().filter(|id| **id != first_id) {
        let (status, answer) = patch(&api, other, &json!({"role": "developer"}), &first).await;
        assert_eq!(status, 200, "{answer}");
        changes += 1;
    }
    let (second_id, second) = api.admin_with_id().await;
    let demote = json!({"role": "developer"});
    let (a, b) = tokio::join!(
        patch(&api, &second_id, &demote, &first),
        patch(&api, &first_id, &demote, &second),
    );
    assert_eq!(
        [a.0, b.0].iter().filter(|s| **s == 200).count(),
        1,
        "{a:?} {b:?}"
    );
    let (survivor_id, survivor, changes) = if a.0 == 200 {
        (&first_id, &first, changes + 1)
    } else {
        (&second_id, &second, 1)
    };
    for body in [json!({"role": "customer"}), json!({"is_active": false})] {
        let (status, answer) = patch(&api, survivor_id, &body, survivor).await;
        assert_eq!((status, code(&answer)), (409, "last_admin"), "{body}");
    }
    let (_, left) = api
        .get("/admin/users?role=admin&active=true", survivor)
        .await;
    assert_eq!(left["users"].as_array().map(Vec::len), Some(1), "{left}");

    audit_of_the_survivor(&api, survivor_id, survivor, changes).await;
}

/// Queries and changes the admin routes refuse, each with its code (the answers are checked
/// against openapi.yaml too); none of them changes anything.
async fn refused_requests(api: &Api, token: &str) {
    for (path, status, expected) in REFUSED_QUERIES {
        let (got, answer) = api.get(path, token).await;
        assert_eq!(
            (got, refusal(got, &answer)),
            (status, expected),
            "{path}: {answer}"
        );
    }
    let nobody = "0b7e4cf2-5d7a-4f57-9a51-2d4f0c1e9b3a";
    for (user, body, status, expected) in [
        ("admin", json!({"role": "customer"}), 404, "user_not_found"),
        (nobody, json!({"is_active": false}), 404, "user_not_found"),
        (nobody, json!({}), 422, "nothing_to_change"),
        (nobody, json!({"role": "owner"}), 422, "invalid_choice"),
    ] {
        let (got, answer) = patch(api, user, &body, token).await;
        let said = refusal(got, &answer);
        assert_eq!((got, said), (status, expected), "{user} {body}: {answer}");
    }
}

/// The surviving admin's entries, page by page: each once, every change there, an expired entry
/// (which DynamoDB would delete within two days) absent.
async fn audit_of_the_survivor(api: &Api, id: &str, token: &str, changes: usize) {
    let user = UserId::parse(id).expect("user id");
    let meta = RequestMeta {
        request_id: "e2e".into(),
        source_ip: None,
        user_agent: None,
        endpoint: "e2e",
    };
    let at = clock::now() - time::Duration::hours(2);
    let expired = AuditEntry::success(AuditEvent::LogoutAll)
        .user(&user)
        .into_item(&meta, at, time::Duration::hours(1));
    capecontrol_shared::db::put_one(&api.dynamo, &api.table, &expired)
        .await
        .expect("put an expired entry");

    let path = format!("/admin/audit?user_id={id}&limit=2");
    let listed = all_pages(api, token, &path, "entries").await;
    let unique: HashSet<&String> = listed.iter().collect();
    assert_eq!(unique.len(), listed.len(), "no entry twice");
    assert!(
        !unique.contains(&expired.id),
        "the expired entry is skipped"
    );
    let path = format!("/admin/audit?user_id={id}&event_type=admin_user_changed&limit=1");
    let changed = all_pages(api, token, &path, "entries").await;
    assert_eq!(changed.len(), changes);
}
