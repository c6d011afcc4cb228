//! Ending sessions: one (`logout`, the refresh token is enough) or all (`logout-all`, with an
//! access token, which also makes every earlier access token unacceptable wherever the user's
//! state is checked).

use anyhow::Context;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use capecontrol_shared::audit::{AuditEntry, AuditEvent};
use capecontrol_shared::clock;
use capecontrol_shared::db::{self, TransactError};
use capecontrol_shared::email::Email;
use capecontrol_shared::http;
use capecontrol_shared::jwt::AccessClaims;
use capecontrol_shared::request_meta::RequestMeta;
use capecontrol_shared::state::AppState;
use capecontrol_shared::store::sessions::{self, SessionItem};
use capecontrol_shared::store::users::{self, Profile};
use capecontrol_shared::store::{self as keys, credentials};
use lambda_http::Request;
use time::OffsetDateTime;

use crate::rotate::{load_live_token, parse_refresh_token, revoke_family, revoke_session};
use crate::RefreshError;

/// DynamoDB takes at most 100 items per transaction; the first also carries three more.
const SESSIONS_PER_TRANSACTION: usize = 96;

/// Revokes the presented token's session. An unknown or expired token is already logged out,
/// so the answer is the same 204 (RFC 7009 section 2.2 answers revocation alike).
pub async fn logout(
    state: &AppState,
    request: &Request,
    meta: &RequestMeta,
) -> Result<(), RefreshError> {
    let Some(presented) = parse_refresh_token(request)? else {
        return Ok(());
    };
    let now = clock::now();
    let Some(token) = load_live_token(state, &presented, now).await? else {
        return Ok(());
    };
    let audit = AuditEntry::success(AuditEvent::Logout)
        .user(&token.user_id)
        .detail("session_id", token.family_id.as_str())
        .into_item(meta, now, state.settings.audit_retention);
    let items = vec![
        revoke_family(state.table(), &token, "logout", now)?,
        db::put_new(state.table(), &audit)?,
    ];
    match db::transact(&state.dynamo, items).await {
        // The session item is gone (expired and deleted): nothing left to revoke.
        Ok(()) | Err(TransactError::Cancelled(_)) => {}
        Err(TransactError::Unexpected(error)) => {
            return Err(error.context("revoke the session").into())
        }
    }
    tracing::info!(user_id = %token.user_id, event = "logout", "session ended");
    Ok(())
}

pub async fn logout_all(
    state: &AppState,
    request: &Request,
    meta: &RequestMeta,
) -> Result<(), RefreshError> {
    let claims = authenticate(state, request).await?;
    let profile = load_current_profile(state, &claims).await?;
    let now = clock::now();
    let sessions = live_sessions(state, &claims.sub, now).await?;

    let audit = AuditEntry::success(AuditEvent::LogoutAll)
        .user(&claims.sub)
        .detail("sessions_revoked", sessions.len())
        .into_item(meta, now, state.settings.audit_retention);
    let mut first = bump_token_version(state, &profile)?;
    first.push(db::put_new(state.table(), &audit)?);
    let mut batches = sessions.chunks(SESSIONS_PER_TRANSACTION);
    first.extend(revocations(state, batches.next().unwrap_or_default(), now)?);
    match db::transact(&state.dynamo, first).await {
        Ok(()) => {}
        Err(error) if error.condition_failed_at(0) => return Err(RefreshError::InvalidAccessToken),
        Err(error) => {
            return Err(anyhow::anyhow!("{error:#}")
                .context("log out everywhere")
                .into())
        }
    }
    // The token version already ends every session; marking the rest revoked is bookkeeping
    // for session listings and is safe to repeat.
    for batch in batches {
        let items = revocations(state, batch, now)?;
        if let Err(error) = db::transact(&state.dynamo, items).await {
            tracing::warn!(
                error = format!("{error:#}"),
                "some sessions not marked revoked"
            );
        }
    }
    tracing::info!(user_id = %claims.sub, event = "logout_all", "every session ended");
    Ok(())
}

async fn authenticate(state: &AppState, request: &Request) -> Result<AccessClaims, RefreshError> {
    let token = http::bearer_token(request).ok_or(RefreshError::InvalidAccessToken)?;
    Ok(state.tokens.verify(token, &state.keys).await?)
}

/// The user as stored now; a token minted before the last revocation (older token version) or
/// for a deactivated account is refused.
async fn load_current_profile(
    state: &AppState,
    claims: &AccessClaims,
) -> Result<Profile, RefreshError> {
    let key = keys::key(users::pk(&claims.sub), users::PROFILE_SK);
    let item: Option<users::UserItem> = db::get(&state.dynamo, state.table(), key)
        .await
        .context("read the user")?;
    item.map(|item| item.profile)
        .filter(|p| p.is_active && p.token_version == claims.tv)
        .ok_or(RefreshError::InvalidAccessToken)
}

async fn live_sessions(
    state: &AppState,
    user: &users::UserId,
    now: OffsetDateTime,
) -> Result<Vec<SessionItem>, RefreshError> {
    let pages = state
        .dynamo
        .query()
        .table_name(state.table())
        .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
        .expression_attribute_values(":pk", AttributeValue::S(sessions::pk(user)))
        .expression_attribute_values(":prefix", AttributeValue::S(sessions::SK_PREFIX.to_owned()))
        .consistent_read(true)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "query sessions: {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(&e)
            )
        })?;
    let mut live = Vec::new();
    for item in pages {
        let session: SessionItem = db::from_item(item)?;
        if session.revoked_at.is_none() && session.expires_epoch > clock::epoch_seconds(now) {
            live.push(session);
        }
    }
    Ok(live)
}

/// Increments the token version on the profile and the credentials item, in step.
fn bump_token_version(
    state: &AppState,
    profile: &Profile,
) -> anyhow::Result<Vec<TransactWriteItem>> {
    let email = Email::parse(&profile.email).context("stored email is not canonical")?;
    let tv = AttributeValue::N(profile.token_version.to_string());
    let next = AttributeValue::N((profile.token_version + 1).to_string());
    let user = Update::builder()
        .table_name(state.table())
        .set_key(Some(keys::key(users::pk(&profile.id), users::PROFILE_SK)))
        .update_expression("SET token_version = :next, updated_at = :now")
        .condition_expression("token_version = :tv")
        .expression_attribute_values(":tv", tv.clone())
        .expression_attribute_values(":next", next.clone())
        .expression_attribute_values(":now", AttributeValue::S(clock::rfc3339(clock::now())))
        .build()
        .context("build the user token-version update")?;
    let credentials = Update::builder()
        .table_name(state.table())
        .set_key(Some(keys::key(credentials::pk(&email), credentials::SK)))
        .update_expression("SET token_version = :next")
        .condition_expression("user_id = :user")
        .expression_attribute_values(":next", next)
        .expression_attribute_values(":user", AttributeValue::S(profile.id.to_string()))
        .build()
        .context("build the credentials token-version update")?;
    Ok(vec![
        TransactWriteItem::builder().update(user).build(),
        TransactWriteItem::builder().update(credentials).build(),
    ])
}

fn revocations(
    state: &AppState,
    sessions: &[SessionItem],
    now: OffsetDateTime,
) -> anyhow::Result<Vec<TransactWriteItem>> {
    sessions
        .iter()
        .map(|s| revoke_session(state.table(), &s.user_id, &s.family_id, "logout_all", now))
        .collect()
}
