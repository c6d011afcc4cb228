//! `POST /auth/register`: creates an account. The email item (uniqueness), the profile and the
//! audit entry are written in one transaction, so a taken email never yields a second user and
//! a failure leaves nothing half-written.

mod form;

use anyhow::anyhow;
use capecontrol_shared::audit::{AuditEntry, AuditEvent};
use capecontrol_shared::clock;
use capecontrol_shared::db::{self, TransactError};
use capecontrol_shared::http::{self, ApiError};
use capecontrol_shared::request_meta::RequestMeta;
use capecontrol_shared::state::AppState;
use capecontrol_shared::store::credentials::{self, CredentialsItem};
use capecontrol_shared::store::users::{Profile, PublicUser, UserId, UserItem};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;

pub use form::Registration;

pub const ENDPOINT: &str = "POST /auth/register";

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("the request was rejected")]
    Rejected(ApiError),
    #[error("the email is already registered")]
    EmailTaken,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl RegisterError {
    fn into_api_error(self) -> ApiError {
        match self {
            Self::Rejected(error) => error,
            Self::EmailTaken => ApiError::new(
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
    match register(state, &request, &meta).await {
        Ok(profile) => {
            tracing::info!(user_id = %profile.id, event = "user_registered", "account created");
            let body = json!({ "user": PublicUser::from(&profile) });
            http::json_response(StatusCode::CREATED, &body, &meta.request_id)
        }
        Err(error) => error.into_api_error().into_response(&meta.request_id),
    }
}

async fn register(
    state: &AppState,
    request: &Request,
    meta: &RequestMeta,
) -> Result<Profile, RegisterError> {
    let object = http::json_object(request).map_err(RegisterError::Rejected)?;
    let form = Registration::parse(object).map_err(RegisterError::Rejected)?;
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
    let items = vec![
        db::put_new(table, &credentials)?,
        db::put_new(table, &UserItem::new(profile.clone(), now))?,
        db::put_new(table, &audit)?,
    ];
    match db::transact(&state.dynamo, items).await {
        Ok(()) => Ok(profile),
        Err(error) if error.condition_failed_at(0) => Err(RegisterError::EmailTaken),
        Err(TransactError::Cancelled(reasons)) => {
            Err(anyhow!("registration cancelled unexpectedly: {reasons:?}").into())
        }
        Err(TransactError::Unexpected(error)) => Err(error.context("write the new account").into()),
    }
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
