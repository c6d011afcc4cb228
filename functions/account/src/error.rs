use capecontrol_shared::auth::AuthError;
use capecontrol_shared::fields::FieldError;
use capecontrol_shared::http::ApiError;
use capecontrol_shared::reauth::ReauthError;
use lambda_http::http::StatusCode;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("the request was rejected")]
    Rejected(ApiError),
    #[error("the access token is not valid")]
    InvalidAccessToken,
    /// The current password was wrong, or could not be checked (throttled).
    #[error(transparent)]
    Reauth(ReauthError),
    #[error("the account changed meanwhile")]
    AccountChanged,
    #[error("the developer is owed money")]
    UnpaidBalance,
    #[error("the last active admin")]
    LastAdmin,
    #[error("no such live session")]
    SessionNotFound,
    #[error("invalid cursor")]
    InvalidCursor,
    #[error("no signing key")]
    KeysUnavailable,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<AuthError> for AccountError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Unauthorized => Self::InvalidAccessToken,
            AuthError::KeysUnavailable => Self::KeysUnavailable,
            AuthError::Unexpected(error) => Self::Unexpected(error),
        }
    }
}

impl From<ReauthError> for AccountError {
    fn from(error: ReauthError) -> Self {
        Self::Reauth(error)
    }
}

impl From<ApiError> for AccountError {
    fn from(error: ApiError) -> Self {
        Self::Rejected(error)
    }
}

impl AccountError {
    /// A 422 for one field.
    pub fn field(field: &str, code: &'static str, message: &'static str) -> Self {
        Self::Rejected(ApiError::validation(vec![FieldError::new(
            field, code, message,
        )]))
    }

    pub fn into_api_error(self) -> ApiError {
        let conflict = |code, message| ApiError::new(StatusCode::CONFLICT, code, message);
        match self {
            Self::Rejected(error) => error,
            Self::InvalidAccessToken => ApiError::unauthorized(),
            Self::Reauth(error) => error.into_api_error(),
            Self::AccountChanged => conflict(
                "account_changed",
                "The account changed meanwhile; try again.",
            ),
            Self::UnpaidBalance => conflict(
                "unpaid_balance",
                "Earnings are still owed to this account; they must be paid out first.",
            ),
            Self::LastAdmin => conflict(
                "last_admin",
                "This is the last active admin account; make another admin first.",
            ),
            Self::SessionNotFound => ApiError::new(
                StatusCode::NOT_FOUND,
                "session_not_found",
                "No live session of this account has that id.",
            ),
            Self::InvalidCursor => ApiError::invalid_cursor(),
            Self::KeysUnavailable => ApiError::service_unavailable(),
            Self::Unexpected(error) => {
                tracing::error!(error = format!("{error:#}"), "account request failed");
                ApiError::internal()
            }
        }
    }
}
