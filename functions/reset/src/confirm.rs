//! `POST /auth/password-reset/confirm {token, new_password}`: one transaction uses the token,
//! sets the new hash, bumps the token version (every earlier access and refresh token dies),
//! marks the sessions revoked, clears the failed-login count (lifting a lockout) and writes the
//! audit entry. The user is not signed in by it.

use anyhow::{anyhow, Context};
use capecontrol_shared::audit::{AuditEntry, AuditEvent};
use capecontrol_shared::db::{self, TransactError};
use capecontrol_shared::email::Email;
use capecontrol_shared::fields::{FieldError, Fields};
use capecontrol_shared::http::{self, ApiError};
use capecontrol_shared::mail::Mail;
use capecontrol_shared::opaque_token::OpaqueToken;
use capecontrol_shared::password::Password;
use capecontrol_shared::request_meta::RequestMeta;
use capecontrol_shared::revocation;
use capecontrol_shared::state::AppState;
use capecontrol_shared::store::password_resets::Purpose;
use capecontrol_shared::store::users::{self, Profile, UserItem};
use capecontrol_shared::store::{self as keys};
use capecontrol_shared::throttle;
use capecontrol_shared::{clock, notify, one_time};
use lambda_http::Request;

use crate::ResetError;

const PURPOSE: Purpose = Purpose::PasswordReset;

pub async fn confirm(
    state: &AppState,
    request: &Request,
    meta: &RequestMeta,
) -> Result<(), ResetError> {
    let (token_text, new_password) = parse(request)?;
    let presented = OpaqueToken::parse(&token_text).ok_or(ResetError::InvalidResetToken)?;
    let now = clock::now();
    let table = state.table();
    let token = one_time::load_usable(&state.dynamo, table, PURPOSE, &presented, now)
        .await
        .context("read the reset token")?
        .ok_or(ResetError::InvalidResetToken)?;
    let profile = load_profile(state, &token.user_id)
        .await?
        .ok_or(ResetError::InvalidResetToken)?;
    let password = checked_password(&new_password, &profile)?;
    let hash = state.hasher.hash(password).await?;
    let sessions = revocation::live_sessions(&state.dynamo, table, &profile.id, now).await?;

    let audit = AuditEntry::success(AuditEvent::PasswordResetCompleted)
        .user(&profile.id)
        .detail("sessions_revoked", sessions.len())
        .into_item(meta, now, state.settings.audit_retention);
    let (revocations, rest) = revocation::first_batch(table, &sessions, "password_reset", now)?;
    let mut items = one_time::redeem(table, PURPOSE, &token, now)?;
    items.extend(revocation::bump_token_version(
        table,
        &profile,
        Some(hash.expose()),
        now,
    )?);
    items.push(db::put_new(table, &audit)?);
    items.extend(revocations);
    let email = Email::parse(&profile.email).map_err(|_| anyhow!("stored email not canonical"))?;
    items.push(throttle::login::clear(table, &email)?);
    match db::transact(&state.dynamo, items).await {
        Ok(()) => {}
        Err(error) if error.condition_failed_at(0) || error.condition_failed_at(1) => {
            return Err(ResetError::InvalidResetToken)
        }
        Err(error) if error.condition_failed_at(2) => return Err(ResetError::AccountChanged),
        Err(TransactError::Cancelled(reasons)) => {
            return Err(anyhow!("reset cancelled unexpectedly: {reasons:?}").into())
        }
        Err(TransactError::Unexpected(error)) => return Err(error.context("reset").into()),
    }
    revocation::mark_revoked(&state.dynamo, table, rest, "password_reset", now).await;
    tracing::info!(user_id = %profile.id, event = "password_reset_completed", "password reset");
    tell_owner(state, meta, &profile).await;
    Ok(())
}

pub(crate) fn parse(request: &Request) -> Result<(String, String), ResetError> {
    let mut fields = Fields::new(http::json_object(request).map_err(ResetError::Rejected)?);
    let token = fields.required_string("token");
    let password = fields.required_string("new_password");
    fields.finish().map_err(ResetError::Rejected)?;
    token
        .zip(password)
        .ok_or_else(|| ResetError::Rejected(ApiError::internal()))
}

pub(crate) async fn load_profile(
    state: &AppState,
    user: &users::UserId,
) -> Result<Option<Profile>, ResetError> {
    let key = keys::key(users::pk(user), users::PROFILE_SK);
    let item: Option<UserItem> = db::get(&state.dynamo, state.table(), key)
        .await
        .context("read the user")?;
    Ok(item.map(|item| item.profile))
}

/// The registration policy, with the user's own details as context; a 422 on `new_password`.
pub(crate) fn checked_password(raw: &str, profile: &Profile) -> Result<Password, ResetError> {
    let local = profile.email.split('@').next().unwrap_or_default();
    let mut context = vec![profile.email.as_str(), local];
    context.extend(profile.first_name.as_deref());
    context.extend(profile.last_name.as_deref());
    Password::new_checked(raw, &context).map_err(|rejection| {
        let field = FieldError::new("new_password", rejection.code(), rejection.message());
        ResetError::Rejected(ApiError::validation(vec![field]))
    })
}

pub(crate) async fn tell_owner(state: &AppState, meta: &RequestMeta, profile: &Profile) {
    let Ok(email) = Email::parse(&profile.email) else {
        return;
    };
    let mail = Mail::PasswordChanged {
        reset_page: state.links.page("/reset-password"),
    };
    notify::deliver(
        state,
        meta,
        Some(&profile.id),
        &email,
        "password_changed",
        mail,
    )
    .await;
}
