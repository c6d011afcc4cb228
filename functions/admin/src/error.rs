use capecontrol_shared::auth::AuthError;
use capecontrol_shared::cursor::InvalidCursor;
use capecontrol_shared::fields::FieldError;
use capecontrol_shared::http::ApiError;
use lambda_http::http::StatusCode;

/// Every expected outcome of the admin routes besides success, and one `Unexpected` that
/// carries the cause. [`AdminError::into_api_error`] is the one place each becomes a status and
/// a stable code.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("the request was rejected")]
    Rejected(ApiError),
    #[error("the access token is not valid, or the account changed since it was issued")]
    InvalidAccessToken,
    #[error("no signing key")]
    KeysUnavailable,
    #[error("the caller is not an admin")]
    Forbidden,
    #[error("no such user")]
    UserNotFound,
    #[error("the change would leave no active admin")]
    LastAdmin,
    #[error("the user kept changing while this request tried to write it")]
    UserBusy,
    #[error("the cursor is not one this listing issued")]
    InvalidCursor,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<AuthError> for AdminError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Unauthorized => Self::InvalidAccessToken,
            AuthError::KeysUnavailable => Self::KeysUnavailable,
            AuthError::Unexpected(error) => Self::Unexpected(error),
        }
    }
}

impl From<ApiError> for AdminError {
    fn from(error: ApiError) -> Self {
        Self::Rejected(error)
    }
}

impl From<InvalidCursor> for AdminError {
    fn from(_: InvalidCursor) -> Self {
        Self::InvalidCursor
    }
}

impl AdminError {
    /// A 422 about one query parameter or body field.
    pub fn field(field: &str, code: &'static str, message: &'static str) -> Self {
        Self::Rejected(ApiError::validation(vec![FieldError::new(
            field, code, message,
        )]))
    }

    pub fn into_api_error(self) -> ApiError {
        match self {
            Self::Rejected(error) => error,
            Self::InvalidAccessToken => ApiError::unauthorized(),
            Self::KeysUnavailable => ApiError::service_unavailable(),
            Self::Forbidden => ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Only admins may do this.",
            ),
            Self::UserNotFound => {
                ApiError::new(StatusCode::NOT_FOUND, "user_not_found", "No such user.")
            }
            Self::LastAdmin => ApiError::new(
                StatusCode::CONFLICT,
                "last_admin",
                "This would leave no active admin; make another admin first.",
            ),
            Self::UserBusy => ApiError::new(
                StatusCode::CONFLICT,
                "user_busy",
                "The user is changing right now; retry shortly.",
            ),
            Self::InvalidCursor => ApiError::invalid_cursor(),
            Self::Unexpected(error) => {
                tracing::error!(error = format!("{error:#}"), "admin request failed");
                ApiError::internal()
            }
        }
    }
}
