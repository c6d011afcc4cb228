//! `GET /users/me` and `PATCH /users/me`: the profile fields of the schema's users table that
//! the owner fills in (`first_name`, `last_name`, `phone`, `website`, `company`, `experience`)
//! are writable, by the rules registration applies; `null` or a blank string clears one.
//! Email, role and the account flags are not writable here (422 `not_writable`).

use anyhow::anyhow;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use capecontrol_shared::audit::{AuditEntry, AuditEvent};
use capecontrol_shared::auth::{self, Caller};
use capecontrol_shared::clock;
use capecontrol_shared::db::{self, TransactError};
use capecontrol_shared::fields::Fields;
use capecontrol_shared::http;
use capecontrol_shared::profile_fields::{self, TEXT_FIELDS};
use capecontrol_shared::request_meta::RequestMeta;
use capecontrol_shared::state::AppState;
use capecontrol_shared::store::users::{self, Experience, Profile, PublicUser};
use capecontrol_shared::store::{self as keys};
use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde_json::{json, Value};

use crate::{AccountError, Answer};

/// Fields of the users table that exist but are not the owner's to write.
const PROTECTED: [&str; 12] = [
    "id",
    "email",
    "role",
    "is_active",
    "is_verified",
    "email_verified_at",
    "created_at",
    "updated_at",
    "last_login_at",
    "terms_accepted_at",
    "privacy_accepted_at",
    "token_version",
];

pub(crate) async fn show(state: &AppState, request: &Request) -> Result<Answer, AccountError> {
    let Caller { profile, .. } = auth::authenticate(state, request).await?;
    Ok((StatusCode::OK, Some(body(&profile))))
}

fn body(profile: &Profile) -> Value {
    json!({ "user": PublicUser::from(profile) })
}

/// One field's new value; `None` clears it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Change {
    Text(&'static str, Option<String>),
    Experience(Option<Experience>),
}

pub(crate) async fn change(
    state: &AppState,
    request: &Request,
    meta: &RequestMeta,
) -> Result<Answer, AccountError> {
    let Caller { profile, .. } = auth::authenticate(state, request).await?;
    let changes = parse(http::json_object(request)?)?;
    let now = clock::now();
    let mut next = profile.clone();
    for change in &changes {
        apply(&mut next, change);
    }
    next.updated_at = Some(clock::rfc3339(now));
    let names: Vec<&str> = changes.iter().map(name).collect();
    let audit = AuditEntry::success(AuditEvent::ProfileUpdated)
        .user(&profile.id)
        .detail("fields", names.clone())
        .into_item(meta, now, state.settings.audit_retention);
    let items = vec![
        update(state.table(), &profile, &next)?,
        db::put_new(state.table(), &audit)?,
    ];
    match db::transact(&state.dynamo, items).await {
        Ok(()) => {}
        Err(error) if error.condition_failed_at(0) => return Err(AccountError::AccountChanged),
        Err(TransactError::Cancelled(reasons)) => {
            return Err(anyhow!("profile update cancelled: {reasons:?}").into())
        }
        Err(TransactError::Unexpected(error)) => return Err(error.into()),
    }
    tracing::info!(user_id = %profile.id, fields = ?names, event = "profile_updated", "profile");
    Ok((StatusCode::OK, Some(body(&next))))
}

fn parse(mut object: serde_json::Map<String, Value>) -> Result<Vec<Change>, AccountError> {
    let taken: Vec<(&'static str, Value)> = TEXT_FIELDS
        .iter()
        .chain(std::iter::once(&"experience"))
        .filter_map(|field| object.remove(*field).map(|value| (*field, value)))
        .collect();
    let protected: Vec<&str> = PROTECTED
        .iter()
        .copied()
        .filter(|field| object.remove(*field).is_some())
        .collect();
    let mut fields = Fields::new(object);
    for field in protected {
        fields.reject(field, "not_writable", "This field cannot be changed here.");
    }
    let changes: Vec<Change> = taken
        .into_iter()
        .filter_map(|(field, value)| parse_one(&mut fields, field, value))
        .collect();
    fields.finish()?;
    if changes.is_empty() {
        return Err(AccountError::field(
            "",
            "nothing_to_change",
            "Give at least one profile field.",
        ));
    }
    Ok(changes)
}

fn parse_one(fields: &mut Fields, field: &'static str, value: Value) -> Option<Change> {
    let text = match value {
        Value::Null => None,
        Value::String(text) if text.trim().is_empty() => None,
        Value::String(text) => Some(text.trim().to_owned()),
        _ => {
            fields.reject(
                field,
                "invalid_type",
                "This field must be a string or null.",
            );
            return None;
        }
    };
    if field == "experience" {
        return match text {
            None => Some(Change::Experience(None)),
            Some(text) => profile_fields::experience(fields, &text)
                .map(|level| Change::Experience(Some(level))),
        };
    }
    match text {
        None => Some(Change::Text(field, None)),
        Some(text) => {
            profile_fields::checked(fields, field, text).map(|text| Change::Text(field, Some(text)))
        }
    }
}

fn name(change: &Change) -> &'static str {
    match change {
        Change::Text(field, _) => field,
        Change::Experience(_) => "experience",
    }
}

fn apply(profile: &mut Profile, change: &Change) {
    match change {
        Change::Experience(level) => profile.experience = *level,
        Change::Text(field, value) => {
            let slot = match *field {
                "first_name" => &mut profile.first_name,
                "last_name" => &mut profile.last_name,
                "phone" => &mut profile.phone,
                "website" => &mut profile.website,
                _ => &mut profile.company,
            };
            slot.clone_from(value);
        }
    }
}

/// Writes the profile fields of `next` (set or removed) on condition that the account is still
/// the one the caller's token was checked against.
fn update(table: &str, read: &Profile, next: &Profile) -> anyhow::Result<TransactWriteItem> {
    let values: [(&str, Option<String>); 6] = [
        ("first_name", next.first_name.clone()),
        ("last_name", next.last_name.clone()),
        ("phone", next.phone.clone()),
        ("website", next.website.clone()),
        ("company", next.company.clone()),
        (
            "experience",
            next.experience
                .and_then(|e| serde_json::to_value(e).ok())
                .and_then(|v| v.as_str().map(str::to_owned)),
        ),
    ];
    let mut sets = vec!["updated_at = :updated_at".to_owned()];
    let mut removes = Vec::new();
    let mut update = Update::builder()
        .table_name(table)
        .set_key(Some(keys::key(users::pk(&read.id), users::PROFILE_SK)))
        .condition_expression("token_version = :tv AND is_active = :active")
        .expression_attribute_values(":tv", AttributeValue::N(read.token_version.to_string()))
        .expression_attribute_values(":active", AttributeValue::Bool(true));
    for (field, value) in values {
        match value {
            Some(value) => {
                sets.push(format!("{field} = :{field}"));
                update = update
                    .expression_attribute_values(format!(":{field}"), AttributeValue::S(value));
            }
            None => removes.push(field),
        }
    }
    let updated_at = next.updated_at.clone().unwrap_or_default();
    let mut expression = format!("SET {}", sets.join(", "));
    if !removes.is_empty() {
        expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
    }
    let update = update
        .update_expression(expression)
        .expression_attribute_values(":updated_at", AttributeValue::S(updated_at))
        .build()?;
    Ok(TransactWriteItem::builder().update(update).build())
}
