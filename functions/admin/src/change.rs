//! `PATCH /admin/users/{id} {role?, is_active?}`: one transaction changes the profile and its
//! credentials copy in step (role, state, the listing key, a bumped token version), moves the
//! active-admin count when the change makes or unmakes an active admin (refused with 409
//! `last_admin` when none would remain), checks that the caller is still the admin they were,
//! marks the user's sessions revoked and writes the audit entry. The bumped token version is
//! what ends every refresh family and access token of the user wherever state is checked.

use anyhow::{anyhow, Context};
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, TransactWriteItem, Update};
use capecontrol_shared::audit::{AuditEntry, AuditEvent};
use capecontrol_shared::clock;
use capecontrol_shared::db::{self, TransactError};
use capecontrol_shared::email::Email;
use capecontrol_shared::fields::{FieldError, Fields};
use capecontrol_shared::http::{self, ApiError};
use capecontrol_shared::request_meta::RequestMeta;
use capecontrol_shared::revocation;
use capecontrol_shared::state::AppState;
use capecontrol_shared::store::users::{self, Profile, PublicUser, Role, UserId, UserItem};
use capecontrol_shared::store::{self as keys, admins, credentials};
use lambda_http::Request;
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::{access, AdminError};

/// Tries when the user changed between the read and the write (each failed try means another
/// write to the user succeeded).
const MAX_ATTEMPTS: u32 = 5;

#[derive(Debug, Clone, Copy)]
struct Change {
    role: Option<Role>,
    is_active: Option<bool>,
}

/// Where each write sits in the transaction, to read which condition failed.
const TARGET: usize = 0;
const CALLER: usize = 3;

pub(crate) async fn change(
    state: &AppState,
    request: &Request,
    meta: &RequestMeta,
    id: &str,
) -> Result<Value, AdminError> {
    let caller = access::admin(state, request).await?;
    let target = UserId::parse(id).ok_or(AdminError::UserNotFound)?;
    let change = parse(request)?;

    for _ in 0..MAX_ATTEMPTS {
        if let Some(profile) = attempt(state, &caller, meta, &target, change).await? {
            tracing::info!(
                user_id = %caller.id,
                target_user_id = %target,
                event = "admin_user_changed",
                "user changed by an admin"
            );
            return Ok(json!({ "user": PublicUser::from(&profile) }));
        }
    }
    Err(AdminError::UserBusy)
}

fn parse(request: &Request) -> Result<Change, ApiError> {
    let mut fields = Fields::new(http::json_object(request)?);
    let role = fields.optional_string("role");
    let is_active = fields.optional_bool("is_active");
    let role = role.and_then(|text| {
        let parsed = Role::parse(&text);
        if parsed.is_none() {
            fields.reject("role", "invalid_choice", "customer, developer or admin.");
        }
        parsed
    });
    fields.finish()?;
    if role.is_none() && is_active.is_none() {
        return Err(ApiError::validation(vec![FieldError::new(
            "",
            "nothing_to_change",
            "Send role, is_active or both.",
        )]));
    }
    Ok(Change { role, is_active })
}

/// One try: the profile after the change, or `None` when the user changed meanwhile.
async fn attempt(
    state: &AppState,
    caller: &Profile,
    meta: &RequestMeta,
    target: &UserId,
    change: Change,
) -> Result<Option<Profile>, AdminError> {
    let key = keys::key(users::pk(target), users::PROFILE_SK);
    let item: Option<UserItem> = db::get(&state.dynamo, state.table(), key)
        .await
        .context("read the user")?;
    let before = item.ok_or(AdminError::UserNotFound)?.profile;
    let now = clock::now();
    let after = Profile {
        role: change.role.unwrap_or(before.role),
        is_active: change.is_active.unwrap_or(before.is_active),
        token_version: before.token_version + 1,
        updated_at: Some(clock::rfc3339(now)),
        ..before.clone()
    };
    let sessions = revocation::live_sessions(&state.dynamo, state.table(), target, now).await?;
    let reason = if after.is_active {
        "role_changed"
    } else {
        "deactivated"
    };
    let (revoked, rest) = revocation::first_batch(state.table(), &sessions, reason, now)?;

    let mut items = vec![
        profile_update(state.table(), &before, &after)?,
        credentials_update(state.table(), &after)?,
        db::put_new(
            state.table(),
            &audit(caller, &before, &after, meta, now, state),
        )?,
    ];
    if caller.id != *target {
        items.push(caller_check(state.table(), caller)?);
    }
    let moved = admins::delta(
        (before.role, before.is_active),
        (after.role, after.is_active),
    );
    let count_at = items.len();
    items.extend(admins::count_change(state.table(), moved)?);
    items.extend(revoked);
    match db::transact(&state.dynamo, items).await {
        Ok(()) => {
            revocation::mark_revoked(&state.dynamo, state.table(), rest, reason, now).await;
            Ok(Some(after))
        }
        Err(e) if e.condition_failed_at(TARGET) => Ok(None),
        Err(e) if caller.id != *target && e.condition_failed_at(CALLER) => {
            Err(AdminError::InvalidAccessToken)
        }
        Err(e) if moved < 0 && e.condition_failed_at(count_at) => Err(AdminError::LastAdmin),
        Err(TransactError::Cancelled(reasons)) => {
            Err(anyhow!("user change cancelled unexpectedly: {reasons:?}").into())
        }
        Err(TransactError::Unexpected(e)) => Err(e.context("change the user").into()),
    }
}

fn audit(
    caller: &Profile,
    before: &Profile,
    after: &Profile,
    meta: &RequestMeta,
    now: OffsetDateTime,
    state: &AppState,
) -> capecontrol_shared::store::audit_log::AuditItem {
    AuditEntry::success(AuditEvent::AdminUserChanged)
        .user(&caller.id)
        .detail("target_user_id", before.id.as_str())
        .detail("role_before", before.role.as_str())
        .detail("role", after.role.as_str())
        .detail("is_active_before", before.is_active)
        .detail("is_active", after.is_active)
        .into_item(meta, now, state.settings.audit_retention)
}

/// Role, state, listing key and token version, on condition that the profile is as read.
fn profile_update(
    table: &str,
    before: &Profile,
    after: &Profile,
) -> anyhow::Result<TransactWriteItem> {
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(keys::key(users::pk(&after.id), users::PROFILE_SK)))
        .update_expression(
            "SET #role = :role, is_active = :active, gsi1pk = :list, token_version = :next, \
             updated_at = :now",
        )
        .condition_expression("token_version = :tv AND #role = :role_before")
        .expression_attribute_names("#role", "role")
        .expression_attribute_values(":role", AttributeValue::S(after.role.as_str().to_owned()))
        .expression_attribute_values(":active", AttributeValue::Bool(after.is_active))
        .expression_attribute_values(
            ":list",
            AttributeValue::S(users::list_index_pk(after.role, after.is_active)),
        )
        .expression_attribute_values(":next", number(after.token_version))
        .expression_attribute_values(":tv", number(before.token_version))
        .expression_attribute_values(
            ":role_before",
            AttributeValue::S(before.role.as_str().to_owned()),
        )
        .expression_attribute_values(
            ":now",
            AttributeValue::S(after.updated_at.clone().unwrap_or_default()),
        )
        .build()
        .context("build the profile change")?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// The copy login reads, in step with the profile.
fn credentials_update(table: &str, after: &Profile) -> anyhow::Result<TransactWriteItem> {
    let email = Email::parse(&after.email).context("stored email is not canonical")?;
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(keys::key(credentials::pk(&email), credentials::SK)))
        .update_expression("SET #role = :role, is_active = :active, token_version = :next")
        .condition_expression("user_id = :user")
        .expression_attribute_names("#role", "role")
        .expression_attribute_values(":role", AttributeValue::S(after.role.as_str().to_owned()))
        .expression_attribute_values(":active", AttributeValue::Bool(after.is_active))
        .expression_attribute_values(":next", number(after.token_version))
        .expression_attribute_values(":user", AttributeValue::S(after.id.to_string()))
        .build()
        .context("build the credentials change")?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// The caller is still an active admin at the token version they authenticated with, so that
/// an admin demoted a moment ago cannot still act.
fn caller_check(table: &str, caller: &Profile) -> anyhow::Result<TransactWriteItem> {
    let check = ConditionCheck::builder()
        .table_name(table)
        .set_key(Some(keys::key(users::pk(&caller.id), users::PROFILE_SK)))
        .condition_expression("token_version = :tv AND #role = :admin AND is_active = :yes")
        .expression_attribute_names("#role", "role")
        .expression_attribute_values(":tv", number(caller.token_version))
        .expression_attribute_values(":admin", AttributeValue::S(Role::Admin.as_str().to_owned()))
        .expression_attribute_values(":yes", AttributeValue::Bool(true))
        .build()
        .context("build the caller check")?;
    Ok(TransactWriteItem::builder().condition_check(check).build())
}

fn number(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}
