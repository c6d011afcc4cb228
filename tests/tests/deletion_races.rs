//! An account deletion landing between another request's read of the account and its write,
//! forced rather than hoped for: an interceptor on the other request's DynamoDB client runs
//! the whole deletion (checks, the dead-making transaction and the erasure) just before that
//! request's first write is sent.

use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::put_item::PutItemInput;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
use aws_sdk_dynamodb::types::AttributeValue;
use capecontrol_shared::state::AppState;
use capecontrol_shared::store::users::{Role, UserId};
use capecontrol_tests::account::{items_mentioning, send};
use capecontrol_tests::earnings::{self, seed_user};
use capecontrol_tests::{call, token, unique_email, EventKind, TestStack, STRONG_PASSWORD};
use serde_json::json;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Runs `before` once, before the first write (a transaction or a put) of the client it is on.
struct BeforeFirstWrite {
    done: AtomicBool,
    before: Box<dyn Fn() + Send + Sync>,
}

impl fmt::Debug for BeforeFirstWrite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BeforeFirstWrite")
    }
}

impl Intercept for BeforeFirstWrite {
    fn name(&self) -> &'static str {
        "BeforeFirstWrite"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let input = context.input();
        let is_write = input.downcast_ref::<TransactWriteItemsInput>().is_some()
            || input.downcast_ref::<PutItemInput>().is_some();
        if is_write && !self.done.swap(true, Ordering::SeqCst) {
            (self.before)();
        }
        Ok(())
    }
}

/// A registered, verified developer (password [`STRONG_PASSWORD`]): id and access token.
async fn developer(stack: &TestStack) -> (UserId, String) {
    let login = call::signed_in(&stack.state, &unique_email("racing-dev")).await;
    let access = token(&login, "access_token");
    let (status, me) = send(&stack.state, "GET", "/users/me", None, &access).await;
    assert_eq!(status, 200, "{me}");
    let id = UserId::parse(me["user"]["id"].as_str().expect("id")).expect("uuid");
    let role = AttributeValue::S(Role::Developer.as_str().to_owned());
    earnings::set_profile(&stack.state, &id, "role", role).await;
    earnings::set_profile(&stack.state, &id, "is_verified", AttributeValue::Bool(true)).await;
    (id, access)
}

/// Function state whose DynamoDB client deletes the developer's account (with `access`)
/// before its first write; the deletion's status lands in `status`.
fn deleting_first(stack: &TestStack, access: String, status: Arc<Mutex<u16>>) -> AppState {
    // A generous budget, so that the purge finishes inside the request even on a loaded machine.
    let mut settings = stack.state.settings.clone();
    settings.deletion_budget = std::time::Duration::from_secs(120);
    let deleter = Arc::new(AppState::new(settings, &stack.aws));
    let before = move || {
        let (deleter, access, status) = (deleter.clone(), access.clone(), status.clone());
        tokio::task::block_in_place(move || {
            tokio::runtime::Handle::current().block_on(async move {
                let body = json!({ "current_password": STRONG_PASSWORD });
                let (code, answer) =
                    send(&deleter, "DELETE", "/users/me", Some(&body), &access).await;
                assert_eq!(answer["purge"], "complete", "{answer}");
                *status.lock().expect("status") = code;
            });
        });
    };
    let interceptor = BeforeFirstWrite {
        done: AtomicBool::new(false),
        before: Box::new(before),
    };
    let config = aws_sdk_dynamodb::config::Builder::from(&stack.aws)
        .interceptor(interceptor)
        .build();
    let mut state = AppState::new(stack.state.settings.clone(), &stack.aws);
    state.dynamo = aws_sdk_dynamodb::Client::from_conf(config);
    state
}

/// Opens an agent for the developer (by an admin, or by the developer themselves) while the developer deletes their account: the opening's status, and every item of the
/// table that still names the developer afterwards.
async fn open_while_deleting(by_admin: bool) -> (u16, serde_json::Value, usize) {
    let stack = TestStack::new().await.expect("stack");
    let (id, access) = developer(&stack).await;
    let admin = seed_user(&stack.state, Role::Admin, true).await;
    let deleted = Arc::new(Mutex::new(0));
    let racing = deleting_first(&stack, access.clone(), deleted.clone());
    let (body, token) = if by_admin {
        let body = json!({"agent_id": "racing-agent", "developer_id": id});
        (body, admin.token.clone())
    } else {
        (json!({"agent_id": "racing-agent"}), access)
    };
    let (status, answer) =
        earnings::send(&racing, "POST", "/earnings/agents", Some(&body), &token).await;
    assert_eq!(
        *deleted.lock().expect("status"),
        200,
        "the deletion went first"
    );
    let all = stack.all_items().await.expect("scan");
    let left = items_mentioning(&all, &[id.as_str()]);
    (status, answer, left.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_opened_by_its_developer_during_the_deletion_leaves_nothing_behind() {
    let (status, answer, left) = open_while_deleting(false).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (401, Some("invalid_access_token")),
        "{answer}"
    );
    assert_eq!(left, 0, "no item names the deleted developer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_opened_by_an_admin_during_the_deletion_leaves_nothing_behind() {
    let (status, answer, left) = open_while_deleting(true).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(
        answer["error"]["fields"][0]["code"].as_str(),
        Some("not_a_developer"),
        "{answer}"
    );
    assert_eq!(left, 0, "no item names the deleted developer");
}

/// The user's own first export page while they delete their account: the export read the
/// account before the deletion, its `data_exported` entry would be written after the erasure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_during_the_deletion_leaves_no_audit_entry_naming_the_user() {
    let stack = TestStack::new().await.expect("stack");
    let (id, access) = developer(&stack).await;
    let deleted = Arc::new(Mutex::new(0));
    let racing = deleting_first(&stack, access.clone(), deleted.clone());
    let (status, answer) = send(&racing, "GET", "/users/me/export", None, &access).await;
    assert_eq!(
        *deleted.lock().expect("status"),
        200,
        "the deletion went first"
    );
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (401, Some("invalid_access_token")),
        "{answer}"
    );
    let all = stack.all_items().await.expect("scan");
    assert!(items_mentioning(&all, &[id.as_str()]).is_empty());
}

/// An admin's listing while that admin deletes their account (another admin remains).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_listing_during_the_admins_deletion_leaves_no_audit_entry_naming_them() {
    let stack = TestStack::new().await.expect("stack");
    let (id, access) = developer(&stack).await;
    seed_user(&stack.state, Role::Admin, true).await;
    let role = AttributeValue::S(Role::Admin.as_str().to_owned());
    earnings::set_profile(&stack.state, &id, "role", role).await;
    put_admin_count(&stack, AttributeValue::N("2".into())).await;
    let deleted = Arc::new(Mutex::new(0));
    let racing = deleting_first(&stack, access.clone(), deleted.clone());
    let request = earnings::request(EventKind::HttpApiV2, "GET", "/admin/users", None, &access);
    let response = ::admin::handle(&racing, request).await;
    assert_eq!(
        *deleted.lock().expect("status"),
        200,
        "the deletion went first"
    );
    assert_eq!(response.status().as_u16(), 401);
    let all = stack.all_items().await.expect("scan");
    assert!(items_mentioning(&all, &[id.as_str()]).is_empty());
}

async fn put_admin_count(stack: &TestStack, count: AttributeValue) {
    stack
        .dynamo()
        .put_item()
        .table_name(stack.state.table())
        .item("pk", AttributeValue::S("ADMINS".into()))
        .item("sk", AttributeValue::S("COUNT".into()))
        .item("active_admins", count)
        .send()
        .await
        .expect("the admin count");
}
