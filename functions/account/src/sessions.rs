//! `GET /auth/sessions`: the caller's live sessions (refresh-token families neither revoked nor
//! past their absolute end), newest first, with where and when they were used, the caller's
//! own marked `current`. `DELETE /auth/sessions/{id}` revokes one of them: its refresh tokens
//! stop working at once (every rotation checks the family); access tokens it issued expire
//! within their lifetime, as after a logout.

use anyhow::anyhow;
use capecontrol_shared::audit::{AuditEntry, AuditEvent};
use capecontrol_shared::auth::{self, Caller};
use capecontrol_shared::clock;
use capecontrol_shared::db::{self, TransactError};
use capecontrol_shared::request_meta::RequestMeta;
use capecontrol_shared::revocation;
use capecontrol_shared::state::AppState;
use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde_json::json;

use crate::{AccountError, Answer};

pub(crate) async fn list(state: &AppState, request: &Request) -> Result<Answer, AccountError> {
    let Caller { claims, profile } = auth::authenticate(state, request).await?;
    let mut sessions =
        revocation::live_sessions(&state.dynamo, state.table(), &profile.id, clock::now()).await?;
    sessions.sort_by(|a, b| b.created_at.cmp(&a.created_at));
    let listed: Vec<_> = sessions
        .iter()
        .map(|s| {
            json!({
                "id": s.family_id,
                "created_at": s.created_at,
                "last_used_at": s.used_at,
                "expires_at": s.expires_at,
                "user_agent": s.user_agent,
                "ip_address": s.ip_address,
                "current": s.family_id == claims.sid,
            })
        })
        .collect();
    Ok((StatusCode::OK, Some(json!({ "sessions": listed }))))
}

pub(crate) async fn revoke(
    state: &AppState,
    request: &Request,
    meta: &RequestMeta,
    id: &str,
) -> Result<Answer, AccountError> {
    let Caller { profile, .. } = auth::authenticate(state, request).await?;
    // Family ids are UUIDs; anything else names no session (and never reaches a key).
    let id = uuid::Uuid::parse_str(id)
        .map_err(|_| AccountError::SessionNotFound)?
        .hyphenated()
        .to_string();
    let now = clock::now();
    let table = state.table();
    let audit = AuditEntry::success(AuditEvent::SessionRevoked)
        .user(&profile.id)
        .detail("session_id", id.as_str())
        .into_item(meta, now, state.settings.audit_retention);
    let items = vec![
        revocation::end_live_session(table, &profile.id, &id, "user_revoked", now)?,
        db::put_new(table, &audit)?,
    ];
    match db::transact(&state.dynamo, items).await {
        Ok(()) => {}
        Err(error) if error.condition_failed_at(0) => return Err(AccountError::SessionNotFound),
        Err(TransactError::Cancelled(reasons)) => {
            return Err(anyhow!("session revocation cancelled: {reasons:?}").into())
        }
        Err(TransactError::Unexpected(error)) => return Err(error.into()),
    }
    tracing::info!(user_id = %profile.id, session_id = %id, event = "session_revoked", "session");
    Ok((StatusCode::NO_CONTENT, None))
}
