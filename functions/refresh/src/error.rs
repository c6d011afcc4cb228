use capecontrol_shared::auth::AuthError;
use capecontrol_shared::http::ApiError;
use lambda_http::http::StatusCode;

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("the request was rejected")]
    Rejected(ApiError),
    /// Unknown, expired, revoked, replayed or belonging to a changed account: one answer for
    /// all, so the response tells an attacker nothing about which.
    #[error("the refresh token is not valid")]
    InvalidRefreshToken,
    #[error("the access token is not valid")]
    InvalidAccessToken,
    #[error("no signing key")]
    KeysUnavailable,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<AuthError> for RefreshError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Unauthorized => Self::InvalidAccessToken,
            AuthError::KeysUnavailable => Self::KeysUnavailable,
            AuthError::Unexpected(error) => Self::Unexpected(error),
        }
    }
}

impl RefreshError {
    pub fn into_api_error(self) -> ApiError {
        match self {
            Self::Rejected(error) => error,
            Self::InvalidRefreshToken => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_refresh_token",
                "The refresh token is invalid or expired; log in again.",
            ),
            Self::InvalidAccessToken => ApiError::unauthorized(),
            Self::KeysUnavailable => ApiError::service_unavailable(),
            Self::Unexpected(error) => {
                tracing::error!(error = format!("{error:#}"), "session request failed");
                ApiError::internal()
            }
        }
    }
}
