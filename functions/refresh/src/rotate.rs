//! Refresh-token rotation (RFC 9700 section 4.14.2). Every refresh replaces the token. The
//! decision is made by one DynamoDB transaction, never in memory:
//! 0. mark the presented token rotated, on condition that it was not rotated before, or was
//!    rotated less than the grace window ago (two tabs refreshing at once);
//! 1. put its successor;
//! 2. touch the session, on condition that it is neither revoked nor past its absolute end;
//! 3. check that the user is active, still at the token version the token carries, and has the
//!    role and verification the token carries (if only those changed, the rotation is redone
//!    once with the current values, so refreshed access tokens never carry stale claims);
//! 4. put the audit entry.
//!
//! A rotated token presented after the grace window is a replay: the whole family is revoked
//! and a security event audited.

use anyhow::{anyhow, Context};
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use capecontrol_shared::audit::{AuditEntry, AuditEvent};
use capecontrol_shared::clock;
use capecontrol_shared::db::{self, TransactError};
use capecontrol_shared::fields::Fields;
use capecontrol_shared::http;
use capecontrol_shared::jwt::Subject;
use capecontrol_shared::opaque_token::OpaqueToken;
use capecontrol_shared::request_meta::RequestMeta;
use capecontrol_shared::revocation;
use capecontrol_shared::session::{self, TokenPair};
use capecontrol_shared::state::AppState;
use capecontrol_shared::store::refresh_tokens::{self, RefreshTokenItem};
use capecontrol_shared::store::users::UserItem;
use capecontrol_shared::store::{self as keys, sessions, users};
use lambda_http::Request;
use time::OffsetDateTime;

use crate::RefreshError;

pub async fn refresh(
    state: &AppState,
    request: &Request,
    meta: &RequestMeta,
) -> Result<TokenPair, RefreshError> {
    let presented = parse_refresh_token(request)?.ok_or(RefreshError::InvalidRefreshToken)?;
    let now = clock::now();
    let current = load_live_token(state, &presented, now)
        .await?
        .ok_or(RefreshError::InvalidRefreshToken)?;
    if is_replay(state, &current, now) {
        return Err(revoke_for_reuse(state, &current, meta, now).await);
    }
    let key = state
        .keys
        .keys()
        .await
        .map_err(|_| RefreshError::KeysUnavailable)?
        .current;

    let mut subject = subject_of(&current);
    for attempt in 0..2 {
        let (next, next_item) =
            session::mint_refresh_token(state, &subject, current.family_expires_epoch, meta, now)?;
        let items = rotation(state, &current, &next_item, meta, now)?;
        let error = match db::transact(&state.dynamo, items).await {
            Ok(()) => {
                tracing::info!(user_id = %current.user_id, event = "token_refreshed", "rotated");
                return Ok(session::token_pair(state, &subject, &key, &next, now)?);
            }
            Err(error) => error,
        };
        match refreshed_subject(&error, &current) {
            Some(fresh) if attempt == 0 => subject = fresh,
            _ => return Err(rotation_refused(state, error, meta, now).await),
        }
    }
    Err(RefreshError::InvalidRefreshToken)
}

/// When only the user's role or verification changed since the token was minted (the user
/// check of the rotation failed, yet the account is active at the same token version), the
/// subject as it stands now, so that the next tokens carry current claims.
fn refreshed_subject(error: &TransactError, current: &RefreshTokenItem) -> Option<Subject> {
    if !error.condition_failed_at(3) {
        return None;
    }
    let user: UserItem = db::from_item(error.item_at(3)?.clone()).ok()?;
    let profile = user.profile;
    let unchanged = profile.is_active && profile.token_version == current.token_version;
    unchanged.then(|| Subject {
        role: profile.role,
        email_verified: profile.is_verified,
        ..subject_of(current)
    })
}

/// The `refresh_token` field; `None` when it is not something this service could have issued.
pub(crate) fn parse_refresh_token(request: &Request) -> Result<Option<OpaqueToken>, RefreshError> {
    let object = http::json_object(request).map_err(RefreshError::Rejected)?;
    let mut fields = Fields::new(object);
    let token = fields.required_string("refresh_token");
    fields.finish().map_err(RefreshError::Rejected)?;
    Ok(token.and_then(|text| OpaqueToken::parse(&text)))
}

/// The token's item, treated as absent once expired: TTL deletion runs up to two days late.
pub(crate) async fn load_live_token(
    state: &AppState,
    presented: &OpaqueToken,
    now: OffsetDateTime,
) -> Result<Option<RefreshTokenItem>, RefreshError> {
    let key = keys::key(refresh_tokens::pk(&presented.hash()), refresh_tokens::SK);
    let item: Option<RefreshTokenItem> = db::get(&state.dynamo, state.table(), key)
        .await
        .context("read the refresh token")?;
    Ok(item.filter(|token| token.expires_epoch > clock::epoch_seconds(now)))
}

fn grace_floor_ms(state: &AppState, now: OffsetDateTime) -> i64 {
    clock::epoch_millis(now - state.settings.refresh_grace)
}

fn is_replay(state: &AppState, token: &RefreshTokenItem, now: OffsetDateTime) -> bool {
    token
        .rotated_at_ms
        .is_some_and(|at| at <= grace_floor_ms(state, now))
}

fn subject_of(token: &RefreshTokenItem) -> Subject {
    Subject {
        user: token.user_id.clone(),
        role: token.role,
        session: token.family_id.clone(),
        token_version: token.token_version,
        email_verified: token.email_verified,
    }
}

fn rotation(
    state: &AppState,
    current: &RefreshTokenItem,
    next: &RefreshTokenItem,
    meta: &RequestMeta,
    now: OffsetDateTime,
) -> anyhow::Result<Vec<TransactWriteItem>> {
    let table = state.table();
    let now_s = AttributeValue::N(clock::epoch_seconds(now).to_string());
    let mark_rotated = Update::builder()
        .table_name(table)
        .set_key(Some(keys::key(current.pk.clone(), refresh_tokens::SK)))
        .update_expression("SET rotated_at_ms = if_not_exists(rotated_at_ms, :now_ms)")
        .condition_expression(
            "attribute_exists(pk) AND expires_epoch > :now_s \
             AND (attribute_not_exists(rotated_at_ms) OR rotated_at_ms > :grace_floor)",
        )
        .expression_attribute_values(
            ":now_ms",
            AttributeValue::N(clock::epoch_millis(now).to_string()),
        )
        .expression_attribute_values(":now_s", now_s.clone())
        .expression_attribute_values(
            ":grace_floor",
            AttributeValue::N(grace_floor_ms(state, now).to_string()),
        )
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .build()
        .context("build the rotation update")?;
    let touch_session = Update::builder()
        .table_name(table)
        .set_key(Some(keys::key(
            sessions::pk(&current.user_id),
            sessions::sk(&current.family_id),
        )))
        .update_expression("SET used_at = :now")
        .condition_expression(
            "attribute_exists(pk) AND attribute_not_exists(revoked_at) AND expires_epoch > :now_s",
        )
        .expression_attribute_values(":now", AttributeValue::S(clock::rfc3339(now)))
        .expression_attribute_values(":now_s", now_s)
        .build()
        .context("build the session update")?;
    let user_unchanged = ConditionCheck::builder()
        .table_name(table)
        .set_key(Some(keys::key(
            users::pk(&current.user_id),
            users::PROFILE_SK,
        )))
        .condition_expression(
            "is_active = :yes AND token_version = :tv AND #role = :role \
             AND is_verified = :verified",
        )
        .expression_attribute_names("#role", "role")
        .expression_attribute_values(":yes", AttributeValue::Bool(true))
        .expression_attribute_values(":tv", AttributeValue::N(next.token_version.to_string()))
        .expression_attribute_values(":role", AttributeValue::S(next.role.as_str().to_owned()))
        .expression_attribute_values(":verified", AttributeValue::Bool(next.email_verified))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .build()
        .context("build the user check")?;
    let audit = AuditEntry::success(AuditEvent::TokenRefreshed)
        .user(&current.user_id)
        .detail("session_id", current.family_id.as_str())
        .into_item(meta, now, state.settings.audit_retention);
    Ok(vec![
        TransactWriteItem::builder().update(mark_rotated).build(),
        db::put_new(table, next)?,
        TransactWriteItem::builder().update(touch_session).build(),
        TransactWriteItem::builder()
            .condition_check(user_unchanged)
            .build(),
        db::put_new(table, &audit)?,
    ])
}

/// Why the rotation transaction was cancelled, acted on: a replay revokes the family.
async fn rotation_refused(
    state: &AppState,
    error: TransactError,
    meta: &RequestMeta,
    now: OffsetDateTime,
) -> RefreshError {
    if error.condition_failed_at(0) {
        let stored = error
            .item_at(0)
            .cloned()
            .map(db::from_item::<RefreshTokenItem>);
        return match stored {
            Some(Ok(token)) if is_replay(state, &token, now) => {
                revoke_for_reuse(state, &token, meta, now).await
            }
            _ => RefreshError::InvalidRefreshToken,
        };
    }
    if error.condition_failed_at(2) || error.condition_failed_at(3) {
        return RefreshError::InvalidRefreshToken;
    }
    match error {
        TransactError::Cancelled(reasons) => {
            anyhow!("rotation cancelled unexpectedly: {reasons:?}").into()
        }
        TransactError::Unexpected(error) => error.context("rotate the refresh token").into(),
    }
}

async fn revoke_for_reuse(
    state: &AppState,
    token: &RefreshTokenItem,
    meta: &RequestMeta,
    now: OffsetDateTime,
) -> RefreshError {
    tracing::warn!(
        user_id = %token.user_id,
        session_id = %token.family_id,
        event = "refresh_token_reuse_detected",
        "replayed refresh token; revoking its session"
    );
    let audit = AuditEntry::failure(
        AuditEvent::RefreshTokenReuseDetected,
        "rotated token replayed",
    )
    .user(&token.user_id)
    .detail("session_id", token.family_id.as_str())
    .into_item(meta, now, state.settings.audit_retention);
    let items = revoke_family(state.table(), token, "refresh_token_reuse", now)
        .and_then(|revoke| Ok(vec![revoke, db::put_new(state.table(), &audit)?]));
    let outcome = match items {
        Ok(items) => db::transact(&state.dynamo, items)
            .await
            .map_err(|e| anyhow!("{e:#}")),
        Err(error) => Err(error),
    };
    match outcome {
        Ok(()) => RefreshError::InvalidRefreshToken,
        Err(error) => error.context("revoke a session after token reuse").into(),
    }
}

/// Marks a token's session revoked (keeping the first revocation's time and reason).
fn revoke_family(
    table: &str,
    token: &RefreshTokenItem,
    reason: &str,
    now: OffsetDateTime,
) -> anyhow::Result<TransactWriteItem> {
    revocation::revoke_session(table, &token.user_id, &token.family_id, reason, now)
}
