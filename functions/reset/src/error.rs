use capecontrol_shared::auth::AuthError;
use capecontrol_shared::http::ApiError;
use capecontrol_shared::reauth::ReauthError;
use capecontrol_shared::throttle::RetryAfter;
use lambda_http::http::StatusCode;

#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    #[error("the request was rejected")]
    Rejected(ApiError),
    /// Unknown, used, superseded or expired: one answer for all.
    #[error("the reset token is not valid")]
    InvalidResetToken,
    #[error("the access token is not valid")]
    InvalidAccessToken,
    #[error("the current password is wrong")]
    WrongCurrentPassword,
    #[error("too many failed password checks")]
    TooManyAttempts(RetryAfter),
    #[error("locked until the password is reset")]
    LockedOut,
    #[error("the account changed meanwhile")]
    AccountChanged,
    #[error("no signing key")]
    KeysUnavailable,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<AuthError> for ResetError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Unauthorized => Self::InvalidAccessToken,
            AuthError::KeysUnavailable => Self::KeysUnavailable,
            AuthError::Unexpected(error) => Self::Unexpected(error),
        }
    }
}

impl From<ReauthError> for ResetError {
    fn from(error: ReauthError) -> Self {
        match error {
            ReauthError::WrongPassword => Self::WrongCurrentPassword,
            ReauthError::TooManyAttempts(retry_after) => Self::TooManyAttempts(retry_after),
            ReauthError::LockedOut => Self::LockedOut,
            ReauthError::NoCredentials => Self::InvalidAccessToken,
            ReauthError::Unexpected(error) => Self::Unexpected(error),
        }
    }
}

impl ResetError {
    pub fn into_api_error(self) -> ApiError {
        match self {
            Self::Rejected(error) => error,
            Self::InvalidResetToken => ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_reset_token",
                "This reset link is invalid or has expired; ask for a new one.",
            ),
            Self::InvalidAccessToken => ApiError::unauthorized(),
            Self::WrongCurrentPassword => ApiError::new(
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
            Self::AccountChanged => ApiError::new(
                StatusCode::CONFLICT,
                "account_changed",
                "The account changed meanwhile; try again.",
            ),
            Self::KeysUnavailable => ApiError::service_unavailable(),
            Self::Unexpected(error) => {
                tracing::error!(error = format!("{error:#}"), "password request failed");
                ApiError::internal()
            }
        }
    }
}
