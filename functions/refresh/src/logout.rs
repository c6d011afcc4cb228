//! Ending sessions: one (`logout`, the refresh token is enough) or all (`logout-all`, with an
//! access token, which also makes every earlier access token unacceptable wherever the user's
//! state is checked).

use capecontrol_shared::audit::{AuditEntry, AuditEvent};
use capecontrol_shared::auth::{self, Caller};
use capecontrol_shared::clock;
use capecontrol_shared::db::{self, TransactError};
use capecontrol_shared::request_meta::RequestMeta;
use capecontrol_shared::revocation;
use capecontrol_shared::state::AppState;
use lambda_http::Request;

use crate::rotate::{load_live_token, parse_refresh_token};
use crate::RefreshError;

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
        revocation::end_live_session(
            state.table(),
            &token.user_id,
            &token.family_id,
            "logout",
            now,
        )?,
        db::put_new(state.table(), &audit)?,
    ];
    match db::transact(&state.dynamo, items).await {
        // The session already ended (or expired and was deleted): nothing to revoke or record.
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
    let Caller { claims, profile } = auth::authenticate(state, request).await?;
    let now = clock::now();
    let table = state.table();
    let sessions = revocation::live_sessions(&state.dynamo, table, &claims.sub, now).await?;

    let audit = AuditEntry::success(AuditEvent::LogoutAll)
        .user(&claims.sub)
        .detail("sessions_revoked", sessions.len())
        .into_item(meta, now, state.settings.audit_retention);
    let (revocations, rest) = revocation::first_batch(table, &sessions, "logout_all", now)?;
    let mut items = revocation::bump_token_version(table, &profile, None, now)?;
    items.push(db::put_new(table, &audit)?);
    items.extend(revocations);
    match db::transact(&state.dynamo, items).await {
        Ok(()) => {}
        Err(error) if error.condition_failed_at(0) => return Err(RefreshError::InvalidAccessToken),
        Err(error) => {
            return Err(anyhow::Error::from(error)
                .context("log out everywhere")
                .into())
        }
    }
    revocation::mark_revoked(&state.dynamo, table, rest, "logout_all", now).await;
    tracing::info!(user_id = %claims.sub, event = "logout_all", "every session ended");
    Ok(())
}
