//! `POST /auth/register`: creates an account. The email item (uniqueness), the profile, the
//! first email-verification token and the audit entry are written in one transaction, so a
//! taken email never yields a second user and a failure leaves nothing half-written. Then the
//! verification link is mailed.
//!
//! With enumeration-safe registration on (the default), a new and a taken email get the same
//! 202 answer, and the owner of a taken address is mailed that someone tried to use it.

mod form;

use anyhow::{anyhow, Context};
use capecontrol_shared::audit::{AuditEntry, AuditEvent};
use capecontrol_shared::db::{self, TransactError};
use capecontrol_shared::email::Email;
use capecontrol_shared::http::{self, ApiError};
use capecontrol_shared::mail::Mail;
use capecontrol_shared::request_meta::RequestMeta;
use capecontrol_shared::state::AppState;
use capecontrol_shared::store::credentials::{self, CredentialsItem};
use capecontrol_shared::store::password_resets::Purpose;
use capecontrol_shared::store::users::{Profile, PublicUser, UserId, UserItem};
use capecontrol_shared::throttle::rate::{RateDecision, RateScope};
use capecontrol_shared::throttle::RetryAfter;
use capecontrol_shared::{clock, notify, one_time, throttle};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;

pub use form::Registration;

pub const ENDPOINT: &str = "POST /auth/register";

/// The one answer of enumeration-safe registration, whatever happened: nothing in it varies.
const ACCEPTED_BODY: &str = "{\"status\":\"accepted\",\"message\":\"If this address can be \
used, a message with the next step is on its way to it.\"}";

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("the request was rejected")]
    Rejected(ApiError),
    #[error("too many registrations from this address or network")]
    TooMany(RetryAfter),
    #[error("the email is already registered")]
    EmailTaken { owner: Option<UserId>, email: Email },
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl RegisterError {
    fn into_api_error(self) -> ApiError {
        match self {
            Self::Rejected(error) => error,
            Self::TooMany(retry_after) => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                "Too many registrations; try again later.",
            )
            .with_retry_after(retry_after),
            Self::EmailTaken { .. } => ApiError::new(
                StatusCode::CONFLICT,
                "email_taken",
                "An account with this email already exists.",
            ),
            Self::Unexpected(error) => {
                tracing::error!(error = format!("{error:#}"), "registration failed");
                ApiError::internal()
            }
        }
    }
}

pub async fn handle(state: &AppState, request: Request) -> Response<Body> {
    let meta = RequestMeta::from_request(&request, ENDPOINT);
    let safe = state.settings.enumeration_safe_registration;
    match register(state, &request, &meta).await {
        Ok(profile) if safe => {
            tracing::info!(user_id = %profile.id, event = "user_registered", "account created");
            accepted(&meta)
        }
        Ok(profile) => {
            tracing::info!(user_id = %profile.id, event = "user_registered", "account created");
            let body = json!({ "user": PublicUser::from(&profile) });
            http::json_response(StatusCode::CREATED, &body, &meta.request_id)
        }
        Err(RegisterError::EmailTaken { owner, email }) if safe => {
            tell_owner(state, &meta, owner, &email).await;
            accepted(&meta)
        }
        Err(error) => error.into_api_error().into_response(&meta.request_id),
    }
}

fn accepted(meta: &RequestMeta) -> Response<Body> {
    let body: serde_json::Value = serde_json::from_str(ACCEPTED_BODY).unwrap_or_default();
    http::json_response(StatusCode::ACCEPTED, &body, &meta.request_id)
}

/// Mails the owner of a taken address, so that the real owner learns of the attempt while the
/// caller learns nothing.
async fn tell_owner(state: &AppState, meta: &RequestMeta, owner: Option<UserId>, email: &Email) {
    let mut entry = AuditEntry::failure(AuditEvent::RegistrationAttemptOnTakenEmail, "email taken");
    if let Some(owner) = &owner {
        entry = entry.user(owner);
    }
    let item = entry.into_item(meta, clock::now(), state.settings.audit_retention);
    if let Err(error) = db::put_one(&state.dynamo, state.table(), &item).await {
        tracing::error!(
            error = format!("{error:#}"),
            "registration attempt not audited"
        );
    }
    let reset_page = state.links.page("/reset-password");
    let mail = Mail::RegistrationAttempt { reset_page };
    notify::deliver(
        state,
        meta,
        owner.as_ref(),
        email,
        "registration_attempt",
        mail,
    )
    .await;
}

async fn register(
    state: &AppState,
    request: &Request,
    meta: &RequestMeta,
) -> Result<Profile, RegisterError> {
    let object = http::json_object(request).map_err(RegisterError::Rejected)?;
    let form = Registration::parse(object).map_err(RegisterError::Rejected)?;
    let scope = RateScope::REGISTER;
    let decision =
        throttle::rate::limit_request(state, scope, Some(&form.email), meta, clock::now()).await?;
    if let RateDecision::Limited { retry_after } = decision {
        return Err(RegisterError::TooMany(retry_after));
    }
    let password_hash = state.hasher.hash(form.password.clone()).await?;

    let now = clock::now();
    let profile = new_profile(&form, now);
    let credentials = CredentialsItem {
        pk: credentials::pk(&form.email),
        sk: credentials::SK.to_owned(),
        entity: credentials::ENTITY.to_owned(),
        user_id: profile.id.clone(),
        email: form.email.to_string(),
        password_hash: password_hash.expose().to_owned(),
        role: profile.role,
        is_active: profile.is_active,
        is_verified: profile.is_verified,
        token_version: profile.token_version,
    };
    let audit = AuditEntry::success(AuditEvent::UserRegistered)
        .user(&profile.id)
        .detail("role", profile.role.as_str())
        .into_item(meta, now, state.settings.audit_retention);

    let table = state.table();
    let (token, verification) = one_time::issue(
        table,
        Purpose::EmailVerification,
        &profile.id,
        &form.email,
        state.settings.verify_token_ttl,
        meta,
        now,
    )?;
    let mut items = vec![
        claim_email(table, &credentials)?,
        db::put_new(table, &UserItem::new(profile.clone(), now))?,
        db::put_new(table, &audit)?,
    ];
    items.extend(verification);
    // A fresh account starts with no failed logins, even if its address was attacked before.
    items.push(throttle::login::clear(table, &form.email)?);
    match db::transact(&state.dynamo, items).await {
        Ok(()) => {
            let (user, email) = (&profile.id, &form.email);
            one_time::mail_link(state, meta, Purpose::EmailVerification, user, email, &token).await;
            Ok(profile)
        }
        Err(error) if error.condition_failed_at(0) => {
            let owner = error.item_at(0).and_then(|item| item.get("user_id"));
            let owner = owner
                .and_then(|v| v.as_s().ok())
                .and_then(|id| UserId::parse(id));
            Err(RegisterError::EmailTaken {
                owner,
                email: form.email.clone(),
            })
        }
        Err(TransactError::Cancelled(reasons)) => {
            Err(anyhow!("registration cancelled unexpectedly: {reasons:?}").into())
        }
        Err(TransactError::Unexpected(error)) => Err(error.context("write the new account").into()),
    }
}

/// The email item, written only if the address is free; a taken one returns the owner's item.
fn claim_email(
    table: &str,
    credentials: &CredentialsItem,
) -> anyhow::Result<aws_sdk_dynamodb::types::TransactWriteItem> {
    let put = aws_sdk_dynamodb::types::Put::builder()
        .table_name(table)
        .set_item(Some(db::to_item(credentials)?))
        .condition_expression("attribute_not_exists(pk)")
        .return_values_on_condition_check_failure(
            aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
        )
        .build()
        .context("build the email claim")?;
    Ok(aws_sdk_dynamodb::types::TransactWriteItem::builder()
        .put(put)
        .build())
}

fn new_profile(form: &Registration, now: time::OffsetDateTime) -> Profile {
    let at = clock::rfc3339(now);
    Profile {
        id: UserId::generate(),
        email: form.email.to_string(),
        role: form.role,
        first_name: form.first_name.clone(),
        last_name: form.last_name.clone(),
        phone: form.phone.clone(),
        website: form.website.clone(),
        company: form.company.clone(),
        is_active: true,
        is_verified: false,
        email_verified_at: None,
        experience: form.experience,
        created_at: at.clone(),
        updated_at: None,
        last_login_at: None,
        terms_accepted_at: Some(at.clone()),
        privacy_accepted_at: Some(at),
        token_version: 0,
    }
}
