//! `POST /auth/password/change {current_password, new_password}` with an access token. Like a
//! reset, it bumps the token version and ends every other session. The current session (the
//! token's `sid`) is kept: the answer is a fresh token pair for it, minted at the new version,
//! because a user who changes their password on this device expects to stay signed in here,
//! while anyone else holding an old token is signed out.

use anyhow::{anyhow, Context};
use capecontrol_shared::audit::{AuditEntry, AuditEvent};
use capecontrol_shared::auth::{self, Caller};
use capecontrol_shared::clock;
use capecontrol_shared::db::{self, TransactError};
use capecontrol_shared::email::Email;
use capecontrol_shared::fields::Fields;
use capecontrol_shared::http;
use capecontrol_shared::jwt::Subject;
use capecontrol_shared::password::{Password, PasswordHashString};
use capecontrol_shared::request_meta::RequestMeta;
use capecontrol_shared::revocation;
use capecontrol_shared::session::{self, TokenPair};
use capecontrol_shared::state::AppState;
use capecontrol_shared::store::credentials::{self, CredentialsItem};
use capecontrol_shared::store::{self as keys};
use capecontrol_shared::throttle::login::{self as throttle, FailureOutcome, LoginTarget, Verdict};
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
    let email = Email::parse(&profile.email).context("stored email is not canonical")?;
    let target = LoginTarget {
        email: &email,
        user: Some(&profile.id),
        meta,
    };
    let seen = throttle::load(state, &email).await?;
    refuse_while_throttled(throttle::check(state, target, &seen, clock::now()).await)?;
    let credentials = load_credentials(state, &email).await?;
    if !verify_current(state, &current, &credentials).await? {
        let failure = AuditEntry::failure(AuditEvent::LoginFailed, "wrong current password")
            .user(&profile.id);
        return match throttle::record_failure(state, target, seen, failure).await? {
            FailureOutcome::Counted { .. } => Err(ResetError::WrongCurrentPassword),
            FailureOutcome::Refused(verdict) => Err(refused(verdict)),
        };
    }
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

/// A wrong current password counts as a failed login, so the login waits apply here too.
fn refuse_while_throttled(verdict: Verdict) -> Result<(), ResetError> {
    match verdict {
        Verdict::Open => Ok(()),
        other => Err(refused(other)),
    }
}

fn refused(verdict: Verdict) -> ResetError {
    match verdict {
        Verdict::Wait(retry_after) => ResetError::TooManyAttempts(retry_after),
        Verdict::LockedOut | Verdict::Open => ResetError::LockedOut,
    }
}

async fn load_credentials(state: &AppState, email: &Email) -> Result<CredentialsItem, ResetError> {
    let key = keys::key(credentials::pk(email), credentials::SK);
    db::get(&state.dynamo, state.table(), key)
        .await
        .context("read credentials")?
        .ok_or(ResetError::InvalidAccessToken)
}

async fn verify_current(
    state: &AppState,
    current: &str,
    credentials: &CredentialsItem,
) -> Result<bool, ResetError> {
    let Some(attempt) = Password::from_attempt(current) else {
        return Ok(false);
    };
    let stored = PasswordHashString::new(credentials.password_hash.clone());
    Ok(state.hasher.verify(attempt, stored).await?)
}
