//! Re-authentication of a signed-in user by their current password, for changes that need more
//! than an access token (password change, account deletion). A wrong password counts as a
//! failed login of the address, so login's waits and lockout apply here too, and a check
//! attempted during a wait or lockout is refused unchecked, as login refuses it.

use anyhow::Context;
use lambda_http::http::StatusCode;

use crate::audit::{AuditEntry, AuditEvent};
use crate::clock;
use crate::db;
use crate::email::Email;
use crate::http::ApiError;
use crate::password::{Password, PasswordHashString};
use crate::request_meta::RequestMeta;
use crate::state::AppState;
use crate::store::credentials::{self, CredentialsItem};
use crate::store::users::Profile;
use crate::store::{self as keys};
use crate::throttle::login::{self as throttle, FailureOutcome, LoginTarget, Verdict};
use crate::throttle::RetryAfter;

#[derive(Debug, thiserror::Error)]
pub enum ReauthError {
    #[error("the current password is wrong")]
    WrongPassword,
    #[error("too many failed password checks")]
    TooManyAttempts(RetryAfter),
    #[error("locked until the password is reset")]
    LockedOut,
    /// The credentials item is gone or no longer the caller's.
    #[error("the account changed")]
    NoCredentials,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl ReauthError {
    /// The answer: 403 `invalid_current_password`, 429 `too_many_attempts` (with
    /// `Retry-After`) or `login_locked`, as password change and login answer them; 401 when the
    /// credentials are gone (the account changed under the token).
    pub fn into_api_error(self) -> ApiError {
        match self {
            Self::WrongPassword => ApiError::new(
                StatusCode::FORBIDDEN,
                "invalid_current_password",
                "The current password is not correct.",
            ),
            Self::TooManyAttempts(retry_after) => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                "Too many failed password checks; try again after the Retry-After delay.",
            )
            .with_retry_after(retry_after),
            Self::LockedOut => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "login_locked",
                "Too many failed logins; reset the password to sign in again.",
            ),
            Self::NoCredentials => ApiError::unauthorized(),
            Self::Unexpected(error) => {
                tracing::error!(error = format!("{error:#}"), "password check failed");
                ApiError::internal()
            }
        }
    }
}

/// The caller's credentials once `current` is proven to be their password.
pub async fn confirm_password(
    state: &AppState,
    profile: &Profile,
    current: &str,
    meta: &RequestMeta,
) -> Result<CredentialsItem, ReauthError> {
    let email = Email::parse(&profile.email).context("stored email is not canonical")?;
    let target = LoginTarget {
        email: &email,
        user: Some(&profile.id),
        meta,
    };
    let seen = throttle::load(state, &email).await?;
    refuse_unless_open(throttle::check(state, target, &seen, clock::now()).await)?;
    let key = keys::key(credentials::pk(&email), credentials::SK);
    let credentials: CredentialsItem = db::get(&state.dynamo, state.table(), key)
        .await
        .context("read credentials")?
        .filter(|c: &CredentialsItem| c.user_id == profile.id)
        .ok_or(ReauthError::NoCredentials)?;
    if verify(state, current, &credentials).await? {
        return Ok(credentials);
    }
    let failure =
        AuditEntry::failure(AuditEvent::LoginFailed, "wrong current password").user(&profile.id);
    match throttle::record_failure(state, target, seen, failure).await? {
        FailureOutcome::Counted { .. } => Err(ReauthError::WrongPassword),
        FailureOutcome::Refused(verdict) => Err(refused(verdict)),
    }
}

fn refuse_unless_open(verdict: Verdict) -> Result<(), ReauthError> {
    match verdict {
        Verdict::Open => Ok(()),
        other => Err(refused(other)),
    }
}

fn refused(verdict: Verdict) -> ReauthError {
    match verdict {
        Verdict::Wait(retry_after) => ReauthError::TooManyAttempts(retry_after),
        Verdict::LockedOut | Verdict::Open => ReauthError::LockedOut,
    }
}

async fn verify(
    state: &AppState,
    current: &str,
    credentials: &CredentialsItem,
) -> anyhow::Result<bool> {
    let Some(attempt) = Password::from_attempt(current) else {
        return Ok(false);
    };
    let stored = PasswordHashString::new(credentials.password_hash.clone());
    state.hasher.verify(attempt, stored).await
}
