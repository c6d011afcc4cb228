//! Email verification:
//! - `POST /auth/verify-email {token}` uses a mailed token once: the profile (and its copy on
//!   the credentials item) becomes verified, in one transaction with the token's use;
//! - `POST /auth/verify-email/resend {email}` mails a new link (older ones stop working) and
//!   answers the same 202 whether or not the address has an unverified account.

use anyhow::{anyhow, Context};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use capecontrol_shared::audit::{AuditEntry, AuditEvent};
use capecontrol_shared::db::{self, TransactError};
use capecontrol_shared::email::Email;
use capecontrol_shared::fields::Fields;
use capecontrol_shared::http::{self, ApiError};
use capecontrol_shared::opaque_token::OpaqueToken;
use capecontrol_shared::request_meta::RequestMeta;
use capecontrol_shared::state::AppState;
use capecontrol_shared::store::credentials;
use capecontrol_shared::store::password_resets::{OneTimeTokenItem, Purpose};
use capecontrol_shared::store::{self as keys, users};
use capecontrol_shared::throttle::rate::RateScope;
use capecontrol_shared::{clock, one_time};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use time::OffsetDateTime;

pub const VERIFY_ENDPOINT: &str = "POST /auth/verify-email";
pub const RESEND_ENDPOINT: &str = "POST /auth/verify-email/resend";
const PURPOSE: Purpose = Purpose::EmailVerification;

/// The one answer of a resend, whatever happened.
const RESEND_BODY: &str = "{\"status\":\"accepted\",\"message\":\"If this address has an \
account waiting for verification, a new link is on its way to it.\"}";

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("the request was rejected")]
    Rejected(ApiError),
    /// Unknown, used, superseded or expired: one answer for all.
    #[error("the verification token is not valid")]
    InvalidToken,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl VerifyError {
    fn into_api_error(self) -> ApiError {
        match self {
            Self::Rejected(error) => error,
            Self::InvalidToken => ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_verification_token",
                "This verification link is invalid or has expired; ask for a new one.",
            ),
            Self::Unexpected(error) => {
                tracing::error!(error = format!("{error:#}"), "verification failed");
                ApiError::internal()
            }
        }
    }
}

const ROUTES: [(&str, &str); 2] = [
    ("/auth/verify-email/resend", RESEND_ENDPOINT),
    ("/auth/verify-email", VERIFY_ENDPOINT),
];

pub async fn handle(state: &AppState, request: Request) -> Response<Body> {
    let (endpoint, meta) = match http::dispatch(&request, &ROUTES) {
        Ok(found) => found,
        Err(answer) => return *answer,
    };
    let outcome = if endpoint == VERIFY_ENDPOINT {
        verify(state, &request, &meta)
            .await
            .map(|()| http::empty_response(StatusCode::NO_CONTENT, &meta.request_id))
    } else {
        resend(state, &request, &meta).await.map(|()| {
            let body: serde_json::Value = serde_json::from_str(RESEND_BODY).unwrap_or_default();
            http::json_response(StatusCode::ACCEPTED, &body, &meta.request_id)
        })
    };
    outcome.unwrap_or_else(|error| error.into_api_error().into_response(&meta.request_id))
}

fn single_field(request: &Request, name: &str) -> Result<Option<String>, VerifyError> {
    let mut fields = Fields::new(http::json_object(request).map_err(VerifyError::Rejected)?);
    let value = fields.required_string(name);
    fields.finish().map_err(VerifyError::Rejected)?;
    Ok(value)
}

async fn verify(
    state: &AppState,
    request: &Request,
    meta: &RequestMeta,
) -> Result<(), VerifyError> {
    let presented = single_field(request, "token")?
        .and_then(|text| OpaqueToken::parse(&text))
        .ok_or(VerifyError::InvalidToken)?;
    let now = clock::now();
    let table = state.table();
    let token = one_time::load_usable(&state.dynamo, table, PURPOSE, &presented, now)
        .await
        .context("read the verification token")?
        .ok_or(VerifyError::InvalidToken)?;

    let audit = AuditEntry::success(AuditEvent::EmailVerified)
        .user(&token.user_id)
        .into_item(meta, now, state.settings.audit_retention);
    let mut items = one_time::redeem(table, PURPOSE, &token, now)?;
    items.extend(mark_verified(table, &token, now)?);
    items.push(db::put_new(table, &audit)?);
    match db::transact(&state.dynamo, items).await {
        Ok(()) => {
            tracing::info!(user_id = %token.user_id, event = "email_verified", "email verified");
            Ok(())
        }
        Err(error) if (0..4).any(|i| error.condition_failed_at(i)) => {
            Err(VerifyError::InvalidToken)
        }
        Err(TransactError::Cancelled(reasons)) => {
            Err(anyhow!("verification cancelled unexpectedly: {reasons:?}").into())
        }
        Err(TransactError::Unexpected(error)) => Err(error.context("verify the email").into()),
    }
}

/// Sets is_verified on the profile and its copy on the credentials item, on condition that the
/// address is still the one the token was sent to.
fn mark_verified(
    table: &str,
    token: &OneTimeTokenItem,
    now: OffsetDateTime,
) -> anyhow::Result<Vec<TransactWriteItem>> {
    let email = Email::parse(&token.email).context("stored email is not canonical")?;
    let profile = Update::builder()
        .table_name(table)
        .set_key(Some(keys::key(
            users::pk(&token.user_id),
            users::PROFILE_SK,
        )))
        .update_expression(
            "SET is_verified = :yes, updated_at = :now, \
             email_verified_at = if_not_exists(email_verified_at, :now)",
        )
        .condition_expression("email = :email")
        .expression_attribute_values(":yes", AttributeValue::Bool(true))
        .expression_attribute_values(":now", AttributeValue::S(clock::rfc3339(now)))
        .expression_attribute_values(":email", AttributeValue::S(token.email.clone()))
        .build()
        .context("build the profile update")?;
    let credentials = Update::builder()
        .table_name(table)
        .set_key(Some(keys::key(credentials::pk(&email), credentials::SK)))
        .update_expression("SET is_verified = :yes")
        .condition_expression("user_id = :user")
        .expression_attribute_values(":yes", AttributeValue::Bool(true))
        .expression_attribute_values(":user", AttributeValue::S(token.user_id.to_string()))
        .build()
        .context("build the credentials update")?;
    Ok(vec![
        TransactWriteItem::builder().update(profile).build(),
        TransactWriteItem::builder().update(credentials).build(),
    ])
}

/// The same reads, writes and wait on every path: an unknown or already verified address runs
/// decoy writes and waits as long as a send takes, instead of mailing.
async fn resend(
    state: &AppState,
    request: &Request,
    meta: &RequestMeta,
) -> Result<(), VerifyError> {
    let email = single_field(request, "email")?.and_then(|raw| Email::parse(&raw).ok());
    let now = clock::now();
    let table = state.table();
    let scope = RateScope::VERIFICATION_RESEND;
    let account = one_time::requested_account(state, scope, email.as_ref(), meta, now).await?;
    let waiting = account.filter(|c| c.is_active && !c.is_verified);
    match (waiting, email) {
        (Some(account), Some(email)) => {
            let lifetime = state.settings.verify_token_ttl;
            let (token, items) = one_time::issue(
                table,
                PURPOSE,
                &account.user_id,
                &email,
                lifetime,
                meta,
                now,
            )?;
            db::transact(&state.dynamo, items)
                .await
                .map_err(anyhow::Error::from)?;
            one_time::mail_link(state, meta, PURPOSE, &account.user_id, &email, &token).await;
        }
        _ => one_time::pretend(state, PURPOSE, Vec::new()).await?,
    }
    Ok(())
}

#[cfg(test)]
mod properties {
    use super::*;
    use capecontrol_shared::arbitrary::{check_parsed, config, json_request, request};
    use proptest::prelude::*;

    fn rejected(error: &VerifyError) -> Option<&ApiError> {
        match error {
            VerifyError::Rejected(refusal) => Some(refusal),
            _ => None,
        }
    }

    fn check(request: &Request, name: &str) -> Result<(), TestCaseError> {
        check_parsed(single_field(request, name), rejected).map(drop)
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn any_verification_body_parses_or_is_refused_as_documented(
            any in request("/auth/verify-email"),
            verify in json_request("/auth/verify-email", &["token"]),
            resend in json_request("/auth/verify-email/resend", &["email"]),
        ) {
            check(&any, "token")?;
            check(&verify, "token")?;
            check(&resend, "email")?;
        }
    }
}
