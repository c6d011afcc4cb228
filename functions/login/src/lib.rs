//! `POST /auth/login {email, password}`: verifies the password and opens a session (a refresh
//! token family). Two DynamoDB round trips besides the hash: read the credentials item, then one
//! transaction writing last_login_at, the session, the refresh token, the audit entry and, when
//! the stored hash is outdated, the rehash.

use anyhow::{anyhow, Context};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use capecontrol_shared::audit::{AuditEntry, AuditEvent};
use capecontrol_shared::clock;
use capecontrol_shared::db::{self, TransactError};
use capecontrol_shared::email::Email;
use capecontrol_shared::fields::Fields;
use capecontrol_shared::http::{self, ApiError};
use capecontrol_shared::jwt::Subject;
use capecontrol_shared::password::{Password, PasswordHashString};
use capecontrol_shared::request_meta::RequestMeta;
use capecontrol_shared::session::{self, TokenPair};
use capecontrol_shared::state::AppState;
use capecontrol_shared::store::credentials::{self, CredentialsItem};
use capecontrol_shared::store::sessions::{self, SessionItem};
use capecontrol_shared::store::{self as keys, users};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use time::OffsetDateTime;

pub const ENDPOINT: &str = "POST /auth/login";

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("the request was rejected")]
    Rejected(ApiError),
    /// Unknown email and wrong password alike.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// Only said after the right password.
    #[error("the account is deactivated")]
    AccountInactive,
    /// Only said after the right password, and only when unverified logins are off.
    #[error("the email address is not verified")]
    EmailNotVerified,
    #[error("the account changed while logging in")]
    AccountChanged,
    #[error("no signing key")]
    KeysUnavailable,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl LoginError {
    fn into_api_error(self) -> ApiError {
        match self {
            Self::Rejected(error) => error,
            Self::InvalidCredentials => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "The email or password is incorrect.",
            ),
            Self::AccountInactive => ApiError::new(
                StatusCode::FORBIDDEN,
                "account_inactive",
                "This account is deactivated.",
            ),
            Self::EmailNotVerified => ApiError::new(
                StatusCode::FORBIDDEN,
                "email_not_verified",
                "Verify your email address with the link we sent, then log in.",
            ),
            Self::AccountChanged => ApiError::new(
                StatusCode::CONFLICT,
                "account_changed",
                "The account changed during login; try again.",
            ),
            Self::KeysUnavailable => ApiError::service_unavailable(),
            Self::Unexpected(error) => {
                tracing::error!(error = format!("{error:#}"), "login failed");
                ApiError::internal()
            }
        }
    }
}

/// Computes the dummy hash in the background at cold start, so that even the first unknown
/// email of a container costs one verification, like a wrong password, and not a hash besides.
pub fn on_start(state: &'static AppState) {
    tokio::spawn(async move {
        if let Err(error) = state.dummy_hash().await {
            tracing::warn!(error = format!("{error:#}"), "dummy hash not prepared");
        }
    });
}

pub async fn handle(state: &AppState, request: Request) -> Response<Body> {
    let meta = RequestMeta::from_request(&request, ENDPOINT);
    match login(state, &request, &meta).await {
        Ok(tokens) => http::json_response(StatusCode::OK, &tokens, &meta.request_id),
        Err(error) => error.into_api_error().into_response(&meta.request_id),
    }
}

struct Attempt {
    /// None when the text is not an address: such a login fails like an unknown email.
    email: Option<Email>,
    password: Option<Password>,
}

fn parse_attempt(request: &Request) -> Result<Attempt, ApiError> {
    let mut fields = Fields::new(http::json_object(request)?);
    let email = fields.required_string("email");
    let password = fields.required_string("password");
    fields.finish()?;
    Ok(Attempt {
        email: email.and_then(|raw| Email::parse(&raw).ok()),
        password: password.and_then(|raw| Password::from_attempt(&raw)),
    })
}

async fn login(
    state: &AppState,
    request: &Request,
    meta: &RequestMeta,
) -> Result<TokenPair, LoginError> {
    let attempt = parse_attempt(request).map_err(LoginError::Rejected)?;
    let stored = match &attempt.email {
        Some(email) => load_credentials(state, email).await?,
        None => None,
    };
    let matched = verify(state, &attempt, stored.as_ref()).await?;
    let credentials = match (stored, matched) {
        (Some(credentials), true) => credentials,
        (stored, _) => {
            let user = stored.map(|c| c.user_id);
            record_failure(state, meta, user.as_ref(), "invalid credentials").await;
            return Err(LoginError::InvalidCredentials);
        }
    };
    if !credentials.is_active {
        record_failure(state, meta, Some(&credentials.user_id), "account inactive").await;
        return Err(LoginError::AccountInactive);
    }
    if !credentials.is_verified && !state.settings.allow_unverified_login {
        record_failure(
            state,
            meta,
            Some(&credentials.user_id),
            "email not verified",
        )
        .await;
        return Err(LoginError::EmailNotVerified);
    }

    let key = state
        .keys
        .keys()
        .await
        .map_err(|_| LoginError::KeysUnavailable)?
        .current;
    let rehash = match attempt.password {
        Some(password) if state.hasher.needs_rehash(&stored_hash(&credentials)) => {
            Some(state.hasher.hash(password).await?)
        }
        _ => None,
    };
    let now = clock::now();
    let (tokens, items) = open_session(state, &credentials, rehash, &key, meta, now)?;
    commit(state, items).await?;
    tracing::info!(user_id = %credentials.user_id, event = "login_succeeded", "session opened");
    Ok(tokens)
}

async fn load_credentials(
    state: &AppState,
    email: &Email,
) -> Result<Option<CredentialsItem>, LoginError> {
    let key = keys::key(credentials::pk(email), credentials::SK);
    Ok(db::get(&state.dynamo, state.table(), key)
        .await
        .context("read credentials")?)
}

fn stored_hash(credentials: &CredentialsItem) -> PasswordHashString {
    PasswordHashString::new(credentials.password_hash.clone())
}

/// Always one full argon2id verification: against the stored hash, or against a dummy hash
/// when the account does not exist, so both failures take the same time.
async fn verify(
    state: &AppState,
    attempt: &Attempt,
    stored: Option<&CredentialsItem>,
) -> Result<bool, LoginError> {
    let target = match stored {
        Some(credentials) => stored_hash(credentials),
        None => state.dummy_hash().await?,
    };
    let password = match &attempt.password {
        Some(password) => password.clone(),
        // Over the byte cap: cannot match, but costs the same as a wrong password.
        None => Password::from_attempt("").context("empty password")?,
    };
    let matched = state.hasher.verify(password, target).await?;
    Ok(matched && stored.is_some() && attempt.password.is_some())
}

async fn record_failure(
    state: &AppState,
    meta: &RequestMeta,
    user: Option<&users::UserId>,
    reason: &'static str,
) {
    let mut entry = AuditEntry::failure(AuditEvent::LoginFailed, reason);
    if let Some(user) = user {
        entry = entry.user(user);
    }
    let item = entry.into_item(meta, clock::now(), state.settings.audit_retention);
    if let Err(error) = db::put_one(&state.dynamo, state.table(), &item).await {
        tracing::error!(error = format!("{error:#}"), "failed login not audited");
    }
}

fn open_session(
    state: &AppState,
    credentials: &CredentialsItem,
    rehash: Option<PasswordHashString>,
    key: &capecontrol_shared::keyring::SigningKey,
    meta: &RequestMeta,
    now: OffsetDateTime,
) -> Result<(TokenPair, Vec<TransactWriteItem>), LoginError> {
    let subject = Subject {
        user: credentials.user_id.clone(),
        role: credentials.role,
        session: uuid::Uuid::new_v4().to_string(),
        token_version: credentials.token_version,
        email_verified: credentials.is_verified,
    };
    let family_end = now + state.settings.refresh_absolute_ttl;
    let session = SessionItem {
        pk: sessions::pk(&subject.user),
        sk: sessions::sk(&subject.session),
        entity: sessions::ENTITY.to_owned(),
        family_id: subject.session.clone(),
        user_id: subject.user.clone(),
        user_agent: meta.user_agent.clone(),
        ip_address: meta.source_ip.clone(),
        created_at: clock::rfc3339(now),
        used_at: clock::rfc3339(now),
        expires_at: clock::rfc3339(family_end),
        expires_epoch: clock::epoch_seconds(family_end),
        revoked_at: None,
        revoked_reason: None,
        ttl: clock::epoch_seconds(family_end),
    };
    let (refresh_token, refresh_item) =
        session::mint_refresh_token(state, &subject, session.expires_epoch, meta, now)?;
    let audit = AuditEntry::success(AuditEvent::LoginSucceeded)
        .user(&subject.user)
        .detail("session_id", subject.session.as_str())
        .detail("rehashed", rehash.is_some())
        .into_item(meta, now, state.settings.audit_retention);

    let table = state.table();
    let mut items = vec![
        record_login(table, credentials, now)?,
        db::put_new(table, &session)?,
        db::put_new(table, &refresh_item)?,
        db::put_new(table, &audit)?,
    ];
    if let Some(new_hash) = rehash {
        items.push(replace_hash(table, credentials, &new_hash)?);
    }
    let tokens = session::token_pair(state, &subject, key, &refresh_token, now)?;
    Ok((tokens, items))
}

/// Sets last_login_at, on condition that the account is still active and its token version
/// unchanged since the credentials were read.
fn record_login(
    table: &str,
    credentials: &CredentialsItem,
    now: OffsetDateTime,
) -> anyhow::Result<TransactWriteItem> {
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(keys::key(
            users::pk(&credentials.user_id),
            users::PROFILE_SK,
        )))
        .update_expression("SET last_login_at = :now")
        .condition_expression("attribute_exists(pk) AND is_active = :yes AND token_version = :tv")
        .expression_attribute_values(":now", AttributeValue::S(clock::rfc3339(now)))
        .expression_attribute_values(":yes", AttributeValue::Bool(true))
        .expression_attribute_values(
            ":tv",
            AttributeValue::N(credentials.token_version.to_string()),
        )
        .build()
        .context("build the last-login update")?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// Replaces an outdated hash, unless the password changed in the meantime.
fn replace_hash(
    table: &str,
    credentials: &CredentialsItem,
    new_hash: &PasswordHashString,
) -> anyhow::Result<TransactWriteItem> {
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(keys::key(credentials.pk.clone(), credentials::SK)))
        .update_expression("SET password_hash = :new")
        .condition_expression("password_hash = :old")
        .expression_attribute_values(":new", AttributeValue::S(new_hash.expose().to_owned()))
        .expression_attribute_values(":old", AttributeValue::S(credentials.password_hash.clone()))
        .build()
        .context("build the rehash update")?;
    Ok(TransactWriteItem::builder().update(update).build())
}

async fn commit(state: &AppState, items: Vec<TransactWriteItem>) -> Result<(), LoginError> {
    match db::transact(&state.dynamo, items).await {
        Ok(()) => Ok(()),
        Err(error) if error.condition_failed_at(0) || error.condition_failed_at(4) => {
            Err(LoginError::AccountChanged)
        }
        Err(TransactError::Cancelled(reasons)) => {
            Err(anyhow!("login cancelled unexpectedly: {reasons:?}").into())
        }
        Err(TransactError::Unexpected(error)) => Err(error.context("open the session").into()),
    }
}
