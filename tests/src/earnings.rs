//! Test support for the earnings routes: users written straight into the table with the role
//! and verification a test needs (email verification is another function's work), access
//! tokens minted with the stack's current key, and in-process calls of the earnings handler.

use aws_sdk_dynamodb::types::AttributeValue;
use capecontrol_shared::clock;
use capecontrol_shared::jwt::Subject;
use capecontrol_shared::state::AppState;
use capecontrol_shared::store::credentials::{self, CredentialsItem};
use capecontrol_shared::store::users::{self, Profile, Role, UserId, UserItem};
use capecontrol_shared::store::{self as keys};
use lambda_http::{Body, Response};
use serde_json::{json, Value};

use crate::{body_json, Event, EventKind};

/// A user in the table and an access token for them.
#[derive(Debug, Clone)]
pub struct Seeded {
    pub id: UserId,
    pub email: String,
    pub token: String,
}

/// Writes a profile and credentials item (as registration would, with `role` and
/// `is_verified` set directly) and mints an access token for the user.
pub async fn seed_user(state: &AppState, role: Role, verified: bool) -> Seeded {
    let now = clock::now();
    let id = UserId::generate();
    let email = format!("{}@example.com", id.as_str().replace('-', ""));
    let profile = Profile {
        is_verified: verified,
        email_verified_at: verified.then(|| clock::rfc3339(now)),
        ..Profile::new(id.clone(), email.clone(), role, clock::rfc3339(now))
    };
    let credentials = CredentialsItem {
        pk: format!("EMAIL#{email}"),
        sk: credentials::SK.to_owned(),
        entity: credentials::ENTITY.to_owned(),
        user_id: id.clone(),
        email: email.clone(),
        // Nobody logs in with a seeded user: the token below is minted directly.
        password_hash: "unusable".to_owned(),
        role,
        is_active: true,
        is_verified: verified,
        token_version: 0,
    };
    let table = state.table();
    for item in [
        capecontrol_shared::db::to_item(&UserItem::new(profile, now)).expect("user item"),
        capecontrol_shared::db::to_item(&credentials).expect("credentials item"),
    ] {
        state
            .dynamo
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .send()
            .await
            .expect("seed a user");
    }
    if role == Role::Admin {
        count_admin(state).await;
    }
    let token = access_token(state, &id, role, 0).await;
    Seeded { id, email, token }
}

/// Counts a seeded admin in the active-admin count, as every writer of admins does.
async fn count_admin(state: &AppState) {
    let write = capecontrol_shared::store::admins::count_change(state.table(), 1)
        .expect("build")
        .expect("a write");
    let update = write.update.expect("an update");
    state
        .dynamo
        .update_item()
        .table_name(state.table())
        .set_key(Some(update.key))
        .update_expression(update.update_expression)
        .set_expression_attribute_names(update.expression_attribute_names)
        .set_expression_attribute_values(update.expression_attribute_values)
        .send()
        .await
        .expect("count the admin");
}

/// An access token for `user` carrying `role` and token version `tv`, signed with the
/// stack's current key.
pub async fn access_token(state: &AppState, user: &UserId, role: Role, tv: u64) -> String {
    let key = state.keys.keys().await.expect("signing keys").current;
    let subject = Subject {
        user: user.clone(),
        role,
        session: uuid::Uuid::new_v4().to_string(),
        token_version: tv,
        email_verified: true,
    };
    let (token, _) = state
        .tokens
        .issue(&subject, &key, clock::now())
        .expect("sign");
    token
}

/// Sets an attribute of a user's profile item (a test's shortcut for what other functions
/// change: deactivation, role, token version).
pub async fn set_profile(state: &AppState, user: &UserId, name: &str, value: AttributeValue) {
    state
        .dynamo
        .update_item()
        .table_name(state.table())
        .set_key(Some(keys::key(users::pk(user), users::PROFILE_SK)))
        .update_expression("SET #name = :value")
        .expression_attribute_names("#name", name)
        .expression_attribute_values(":value", value)
        .send()
        .await
        .expect("update the profile");
}

/// One request to the earnings handler, as an HTTP API v2 event.
pub async fn call(
    state: &AppState,
    method: &str,
    path: &str,
    body: Option<&Value>,
    token: &str,
) -> Response<Body> {
    let request = request(EventKind::HttpApiV2, method, path, body, token);
    ::earnings::handle(state, request).await
}

/// A request of event shape `kind`: `path` may carry a query string (already encoded),
/// `token` is sent as a bearer token unless empty.
pub fn request(
    kind: EventKind,
    method: &str,
    path: &str,
    body: Option<&Value>,
    token: &str,
) -> lambda_http::Request {
    let mut event = Event::new(kind, path).expect("event").method(method);
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    event = event.path(path);
    if !query.is_empty() {
        let pairs: Vec<(&str, &str)> = query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .collect();
        event = event.query(&pairs);
    }
    event = match body {
        Some(body) => event.json(body),
        None => event.without_header("content-type").raw_body("", false),
    };
    if !token.is_empty() {
        event = event.header("authorization", &format!("Bearer {token}"));
    }
    event.request().expect("request")
}

/// A status and a JSON body.
pub async fn send(
    state: &AppState,
    method: &str,
    path: &str,
    body: Option<&Value>,
    token: &str,
) -> (u16, Value) {
    let response = call(state, method, path, body, token).await;
    (response.status().as_u16(), body_json(&response))
}

/// Opens `agent` for `developer` (a developer's own token), asserting success.
pub async fn open_agent(state: &AppState, developer: &Seeded, agent: &str) -> Value {
    let body = json!({ "agent_id": agent, "agent_name": "Test agent", "currency": "USD" });
    let (status, answer) = send(
        state,
        "POST",
        "/earnings/agents",
        Some(&body),
        &developer.token,
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    answer
}

pub fn sale(developer: &UserId, agent: &str, sale_id: &str, amount: &str) -> Value {
    json!({
        "developer_id": developer,
        "agent_id": agent,
        "sale_id": sale_id,
        "amount": amount,
        "currency": "USD",
    })
}

pub fn payout(developer: &UserId, agent: &str, payout_id: &str, amount: &str) -> Value {
    json!({
        "developer_id": developer,
        "agent_id": agent,
        "payout_id": payout_id,
        "amount": amount,
    })
}

/// Text of a JSON string field, panicking with the body when absent.
pub fn text<'a>(body: &'a Value, pointer: &str) -> &'a str {
    body.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no {pointer} in {body}"))
}
