//! `POST /auth/password/change {current_password, new_password}` with an access token. Like a
//! reset, it bumps the token version and ends every other session. The current session (the
//! token's `sid`) is kept: the answer is a fresh token pair for it, minted at the new version,
//! because a user who changes their password on this device expects to stay signed in here,
//! while anyone else holding an old token is signed out.

use anyhow::anyhow;
use capecontrol_shared::audit::{AuditEntry, AuditEvent};
use capecontrol_shared::auth::{self, Caller};
use capecontrol_shared::clock;
use capecontrol_shared::db::{self, TransactError};
use capecontrol_shared::fields::Fields;
use capecontrol_shared::http;
use capecontrol_shared::jwt::Subject;
use capecontrol_shared::reauth;
use capecontrol_shared::request_meta::RequestMeta;
use capecontrol_shared::revocation;
use capecontrol_shared::session::{self, TokenPair};
use capecontrol_shared::state::AppState;
use lambda_http::Request;

use crate::confirm::{checked_password, tell_owner};
use crate::ResetError;

pub async fn change(
    state: &AppState,
    request: &Request,
    meta: &RequestMeta,
) -> Result<TokenPair, ResetError> {
    let Caller { claims, profile } = auth::authenticate(state, request).await?;
    let (current, new_password) = parse(request)?;
    reauth::confirm_password(state, &profile, &current, meta).await?;
    let password = checked_password(&new_password, &profile)?;
    let hash = state.hasher.hash(password).await?;
    let key = state
        .keys
        .keys()
        .await
        .map_err(|_| ResetError::KeysUnavailable)?
        .current;

    let now = clock::now();
    let table = state.table();
    let sessions = revocation::live_sessions(&state.dynamo, table, &profile.id, now).await?;
    let current_session = sessions
        .iter()
        .find(|s| s.family_id == claims.sid)
        .ok_or(ResetError::InvalidAccessToken)?;
    let others: Vec<_> = sessions
        .iter()
        .filter(|s| s.family_id != claims.sid)
        .cloned()
        .collect();
    let subject = Subject {
        user: profile.id.clone(),
        role: profile.role,
        session: claims.sid.clone(),
        token_version: profile.token_version + 1,
        email_verified: profile.is_verified,
    };
    let (refresh, refresh_item) =
        session::mint_refresh_token(state, &subject, current_session.expires_epoch, meta, now)?;
    let audit = AuditEntry::success(AuditEvent::PasswordChanged)
        .user(&profile.id)
        .detail("sessions_revoked", others.len())
        .into_item(meta, now, state.settings.audit_retention);
    let (revocations, rest) = revocation::first_batch(table, &others, "password_changed", now)?;
    let mut items = revocation::bump_token_version(table, &profile, Some(hash.expose()), now)?;
    items.push(db::put_new(table, &refresh_item)?);
    items.push(db::put_new(table, &audit)?);
    items.extend(revocations);
    match db::transact(&state.dynamo, items).await {
        Ok(()) => {}
        Err(error) if error.condition_failed_at(0) => return Err(ResetError::AccountChanged),
        Err(TransactError::Cancelled(reasons)) => {
            return Err(anyhow!("password change cancelled unexpectedly: {reasons:?}").into())
        }
        Err(TransactError::Unexpected(error)) => return Err(error.context("change").into()),
    }
    revocation::mark_revoked(&state.dynamo, table, rest, "password_changed", now).await;
    tracing::info!(user_id = %profile.id, event = "password_changed", "password changed");
    tell_owner(state, meta, &profile).await;
    Ok(session::token_pair(state, &subject, &key, &refresh, now)?)
}

pub(crate) fn parse(request: &Request) -> Result<(String, String), ResetError> {
    let mut fields = Fields::new(http::json_object(request).map_err(ResetError::Rejected)?);
    let current = fields.required_string("current_password");
    let new_password = fields.required_string("new_password");
    fields.finish().map_err(ResetError::Rejected)?;
    current
        .zip(new_password)
        .ok_or(ResetError::InvalidAccessToken)
}
