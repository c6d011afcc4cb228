//! Test support for the admin routes: in-process calls of the admin handler in any event
//! shape, and readers of what the routes keep in step (the active-admin count, a user's items).

use capecontrol_shared::audit::{AuditEntry, AuditEvent};
use capecontrol_shared::request_meta::RequestMeta;
use capecontrol_shared::state::AppState;
use capecontrol_shared::store::users::UserId;
use capecontrol_shared::store::{self as keys, admins, users, Item};
use serde_json::Value;
use time::OffsetDateTime;

use crate::earnings::request;
use crate::{body_json, EventKind};

/// A status and a JSON body from the admin handler, as an HTTP API v2 event.
pub async fn send(
    state: &AppState,
    method: &str,
    path: &str,
    body: Option<&Value>,
    token: &str,
) -> (u16, Value) {
    send_as(state, EventKind::HttpApiV2, method, path, body, token).await
}

/// [`send`] in the event shape `kind`.
pub async fn send_as(
    state: &AppState,
    kind: EventKind,
    method: &str,
    path: &str,
    body: Option<&Value>,
    token: &str,
) -> (u16, Value) {
    let response = ::admin::handle(state, request(kind, method, path, body, token)).await;
    (response.status().as_u16(), body_json(&response))
}

/// The active-admin count, if the item exists.
pub async fn admin_count(state: &AppState) -> Option<i64> {
    let key = keys::key(admins::PK, admins::SK);
    let item = capecontrol_shared::db::get_item(&state.dynamo, state.table(), key)
        .await
        .expect("read the count")?;
    item.get(admins::COUNT)?.as_n().ok()?.parse().ok()
}

/// A user's profile item as stored.
pub async fn profile_item(state: &AppState, user: &UserId) -> Item {
    let key = keys::key(users::pk(user), users::PROFILE_SK);
    capecontrol_shared::db::get_item(&state.dynamo, state.table(), key)
        .await
        .expect("read the profile")
        .expect("the profile exists")
}

/// Writes an audit entry of `user` at `at`, kept for `retention` (a past TTL is an entry that
/// DynamoDB has not deleted yet).
pub async fn put_audit(
    state: &AppState,
    user: &UserId,
    event: AuditEvent,
    at: OffsetDateTime,
    retention: time::Duration,
) -> String {
    let meta = RequestMeta {
        request_id: "test".into(),
        source_ip: None,
        user_agent: None,
        endpoint: "test",
    };
    let item = AuditEntry::success(event)
        .user(user)
        .into_item(&meta, at, retention);
    let id = item.id.clone();
    capecontrol_shared::db::put_one(&state.dynamo, state.table(), &item)
        .await
        .expect("put an audit entry");
    id
}

/// The `code` of an error body.
pub fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

/// What a refusal says: the first field's code of a 422, the error code of anything else.
pub fn refusal(status: u16, body: &Value) -> &str {
    if status == 422 {
        body["error"]["fields"][0]["code"]
            .as_str()
            .unwrap_or_default()
    } else {
        code(body)
    }
}

/// Queries the admin listings refuse, with the status and the [`refusal`] each gets; valid
/// whatever the table holds and the clock says.
pub const REFUSED_QUERIES: [(&str, u16, &str); 14] = [
    (
        "/admin/users?role=admin&role=customer",
        400,
        "repeated_query_parameter",
    ),
    (
        "/admin/audit?success=true&success=false",
        400,
        "repeated_query_parameter",
    ),
    ("/admin/audit?user=x", 400, "unknown_query_parameter"),
    ("/admin/users?user_id=x", 400, "unknown_query_parameter"),
    ("/admin/audit?cursor=abc.def", 400, "invalid_cursor"),
    ("/admin/users?role=root", 422, "invalid_choice"),
    ("/admin/users?active=yes", 422, "invalid_choice"),
    ("/admin/users?created_from=yesterday", 422, "invalid_time"),
    ("/admin/audit?event_type=made_up", 422, "invalid_choice"),
    ("/admin/audit?user_id=USER%231", 422, "invalid_id"),
    ("/admin/audit?limit=0", 422, "invalid_limit"),
    (
        "/admin/audit?from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z",
        422,
        "range_too_long",
    ),
    (
        "/admin/audit?from=2026-03-01T00:00:00Z&to=2026-01-01T00:00:00Z",
        422,
        "invalid_range",
    ),
    (
        "/admin/users?created_from=2026-03-01T00:00:00Z&created_to=2026-03-01T00:00:00Z",
        422,
        "invalid_range",
    ),
];
