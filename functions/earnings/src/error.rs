use capecontrol_shared::auth::AuthError;
use capecontrol_shared::fields::FieldError;
use capecontrol_shared::http::ApiError;
use lambda_http::http::StatusCode;

/// Every expected outcome of the earnings routes besides success, and one `Unexpected` that
/// carries the cause. [`EarningsError::into_api_error`] is the one place each becomes a status
/// and a stable code.
#[derive(Debug, thiserror::Error)]
pub enum EarningsError {
    #[error("the request was rejected")]
    Rejected(ApiError),
    #[error("the access token is not valid, or the account changed since it was issued")]
    InvalidAccessToken,
    #[error("no signing key")]
    KeysUnavailable,
    #[error("the caller's role may not do this")]
    Forbidden,
    #[error("the caller's email is not verified")]
    NotVerified,
    #[error("no such earnings record, or not the caller's")]
    RecordNotFound,
    #[error("the agent id is taken")]
    AgentTaken,
    #[error("the record is inactive")]
    RecordInactive,
    #[error("the payout exceeds the balance")]
    InsufficientBalance,
    #[error("the sale or payout id was used for a different request")]
    IdempotencyConflict,
    #[error("the record kept changing while this request tried to write it")]
    Busy,
    #[error("the cursor is not one this listing issued")]
    InvalidCursor,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<AuthError> for EarningsError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Unauthorized => Self::InvalidAccessToken,
            AuthError::KeysUnavailable => Self::KeysUnavailable,
            AuthError::Unexpected(error) => Self::Unexpected(error),
        }
    }
}

impl From<ApiError> for EarningsError {
    fn from(error: ApiError) -> Self {
        Self::Rejected(error)
    }
}

impl EarningsError {
    /// A 422 about one field, for what only the stored state shows (a currency that differs
    /// from the record's, a total that would leave the range).
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
            Self::Forbidden => forbidden("forbidden", "Your role may not do this."),
            Self::NotVerified => forbidden(
                "email_not_verified",
                "Verify your email address before using earnings.",
            ),
            Self::RecordNotFound => ApiError::new(
                StatusCode::NOT_FOUND,
                "record_not_found",
                "No such earnings record.",
            ),
            Self::AgentTaken => conflict("agent_exists", "This agent id is already registered."),
            Self::RecordInactive => conflict(
                "record_inactive",
                "This earnings record is inactive and takes no sales.",
            ),
            Self::InsufficientBalance => conflict(
                "insufficient_balance",
                "The payout exceeds the balance owed.",
            ),
            Self::IdempotencyConflict => conflict(
                "idempotency_key_reused",
                "This id was already used for a different request.",
            ),
            Self::Busy => conflict(
                "record_busy",
                "The record is changing too often right now; retry shortly.",
            ),
            Self::InvalidCursor => ApiError::invalid_cursor(),
            Self::Unexpected(error) => {
                tracing::error!(error = format!("{error:#}"), "earnings request failed");
                ApiError::internal()
            }
        }
    }
}

fn forbidden(code: &'static str, message: &'static str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, code, message)
}

fn conflict(code: &'static str, message: &'static str) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, code, message)
}
