use capecontrol_shared::auth::AuthError;
use capecontrol_shared::http::ApiError;
use capecontrol_shared::reauth::ReauthError;
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
    /// The current password was wrong, or could not be checked (throttled).
    #[error(transparent)]
    Reauth(ReauthError),
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
        Self::Reauth(error)
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
            Self::Reauth(error) => error.into_api_error(),
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
