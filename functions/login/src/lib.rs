//! `POST /auth/login {email, password}`: verifies the password and opens a session (a refresh
//! token family). Two DynamoDB round trips besides the hash: one BatchGetItem reading the
//! credentials item and the email's failed-login count, then one transaction writing
//! last_login_at, the session, the refresh token, the audit entry, the clearing of the count
//! and, when the stored hash is outdated, the rehash. A failure is one transaction too: the
//! count and its audit entries. While the email is throttled, login answers 429 before any
//! hash (see `capecontrol_shared::throttle::login`).

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
use capecontrol_shared::store::{self as keys, login_failures, users, Item};
use capecontrol_shared::throttle::login::{
    self as throttle, FailureOutcome, FailureRecord, LoginTarget, Verdict,
};
use capecontrol_shared::throttle::RetryAfter;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use time::OffsetDateTime;

pub const ENDPOINT: &str = "POST /auth/login";

/// Positions in the session transaction whose conditions mean something.
const RECORD_LOGIN_AT: usize = 0;
const CLEAR_FAILURES_AT: usize = 4;
const REHASH_AT: usize = 5;

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
    /// Failed logins of this email started a wait; said whether or not the account exists.
    #[error("login waits after failed attempts")]
    TooManyAttempts(RetryAfter),
    /// The lockout threshold was reached; said whether or not the account exists.
    #[error("login locked until a password reset")]
    LockedOut,
    #[error("no signing key")]
    KeysUnavailable,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl LoginError {
    /// The refusal a throttle verdict means; None when login may go ahead.
    fn refusal(verdict: Verdict) -> Option<Self> {
        match verdict {
            Verdict::Open => None,
            Verdict::Wait(retry_after) => Some(Self::TooManyAttempts(retry_after)),
            Verdict::LockedOut => Some(Self::LockedOut),
        }
    }

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
            Self::TooManyAttempts(retry_after) => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                "Too many failed logins; try again after the Retry-After delay.",
            )
            .with_retry_after(retry_after),
            Self::LockedOut => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "login_locked",
                "Too many failed logins; reset the password to log in again.",
            ),
            Self::KeysUnavailable => ApiError::service_unavailable(),
            Self::Unexpected(error) => {
                tracing::error!(error = format!("{error:#}"), "login failed");
                ApiError::internal()
            }
        }
    }
}

/// Prepares the dummy hash at cold start (no hashing: see `Hasher::dummy_hash`), so that an
/// unknown email costs one verification, like a wrong password.
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
    let Some(email) = &attempt.email else {
        return Err(not_an_address(state, &attempt, meta).await);
    };
    let (stored, seen) = load_account(state, email).await?;
    let user = stored.as_ref().map(|c| c.user_id.clone());
    let target = LoginTarget {
        email,
        user: user.as_ref(),
        meta,
    };
    let verdict = throttle::check(state, target, &seen, clock::now()).await;
    if let Some(refusal) = LoginError::refusal(verdict) {
        return Err(refusal);
    }

    let matched = verify(state, &attempt, stored.as_ref()).await?;
    let credentials = match (stored, matched) {
        (Some(credentials), true) => credentials,
        _ => return Err(count_failure(state, target, seen).await),
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

    let rehash = match attempt.password {
        Some(password) if state.hasher.needs_rehash(&stored_hash(&credentials)) => {
            Some(state.hasher.hash(password).await?)
        }
        _ => None,
    };
    let verified = Verified {
        credentials,
        rehash,
        target,
        seen,
    };
    sign_in(state, &verified).await
}

/// Opens the session of a verified attempt in one transaction that also clears the count.
async fn sign_in(state: &AppState, verified: &Verified<'_>) -> Result<TokenPair, LoginError> {
    let key = state
        .keys
        .keys()
        .await
        .map_err(|_| LoginError::KeysUnavailable)?
        .current;
    let now = clock::now();
    let (tokens, items) = open_session(state, verified, &key, now)?;
    commit(state, items, verified.target, now).await?;
    let user_id = &verified.credentials.user_id;
    tracing::info!(user_id = %user_id, event = "login_succeeded", "session opened");
    Ok(tokens)
}

/// What a verified attempt brings to the session transaction.
struct Verified<'a> {
    credentials: CredentialsItem,
    rehash: Option<PasswordHashString>,
    target: LoginTarget<'a>,
    seen: FailureRecord,
}

/// Text that is not an address: no account can have it and there is no email to count under,
/// so it costs one verification and fails like an unknown email.
async fn not_an_address(state: &AppState, attempt: &Attempt, meta: &RequestMeta) -> LoginError {
    if let Err(error) = verify(state, attempt, None).await {
        return error;
    }
    record_failure(state, meta, None, "invalid credentials").await;
    LoginError::InvalidCredentials
}

/// The credentials item (if the account exists) and the email's failed-login count, in one
/// strongly consistent BatchGetItem.
async fn load_account(
    state: &AppState,
    email: &Email,
) -> Result<(Option<CredentialsItem>, FailureRecord), LoginError> {
    let keys = vec![
        keys::key(credentials::pk(email), credentials::SK),
        login_failures::key(email),
    ];
    let mut items = db::batch_get(&state.dynamo, state.table(), keys)
        .await
        .context("read credentials and failed logins")?;
    let credentials = take_by_sk(&mut items, credentials::SK)
        .map(db::from_item::<CredentialsItem>)
        .transpose()
        .context("read credentials")?;
    let seen = FailureRecord::from_item(take_by_sk(&mut items, login_failures::SK))?;
    Ok((credentials, seen))
}

fn take_by_sk(items: &mut Vec<Item>, sk: &str) -> Option<Item> {
    let has_sk = |item: &Item| {
        item.get(keys::SK)
            .and_then(|value| value.as_s().ok())
            .is_some_and(|value| value == sk)
    };
    let position = items.iter().position(has_sk)?;
    Some(items.swap_remove(position))
}

/// Counts a wrong password (or an unknown email) and says what to answer: 401, or 429 when
/// concurrent failures started a wait before this one could be counted.
async fn count_failure(
    state: &AppState,
    target: LoginTarget<'_>,
    seen: FailureRecord,
) -> LoginError {
    let entry = AuditEntry::failure(AuditEvent::LoginFailed, "invalid credentials");
    match throttle::record_failure(state, target, seen, entry).await {
        Ok(FailureOutcome::Counted { .. }) => LoginError::InvalidCredentials,
        Ok(FailureOutcome::Refused(verdict)) => {
            LoginError::refusal(verdict).unwrap_or(LoginError::InvalidCredentials)
        }
        Err(error) => error.context("count the failed login").into(),
    }
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
    verified: &Verified<'_>,
    key: &capecontrol_shared::keyring::SigningKey,
    now: OffsetDateTime,
) -> Result<(TokenPair, Vec<TransactWriteItem>), LoginError> {
    let Verified {
        credentials,
        rehash,
        target,
        seen,
    } = verified;
    let meta = target.meta;
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
        .detail(
            "cleared_failures",
            seen.failures(&state.settings.login_throttle, now),
        )
        .into_item(meta, now, state.settings.audit_retention);

    let table = state.table();
    let mut items = vec![
        record_login(table, credentials, now)?,
        db::put_new(table, &session)?,
        db::put_new(table, &refresh_item)?,
        db::put_new(table, &audit)?,
        throttle::clear_unless_throttled(table, target.email, now)?,
    ];
    if let Some(new_hash) = rehash {
        items.push(replace_hash(table, credentials, new_hash)?);
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

async fn commit(
    state: &AppState,
    items: Vec<TransactWriteItem>,
    target: LoginTarget<'_>,
    now: OffsetDateTime,
) -> Result<(), LoginError> {
    let error = match db::transact(&state.dynamo, items).await {
        Ok(()) => return Ok(()),
        Err(error) => error,
    };
    if let Some(verdict) = throttle::refusal_in(&error, CLEAR_FAILURES_AT, now) {
        // A concurrent failure started a wait after our read: this attempt is refused too.
        throttle::audit_refusal(state, target, verdict, now).await;
        return Err(LoginError::refusal(verdict).unwrap_or(LoginError::AccountChanged));
    }
    if error.condition_failed_at(RECORD_LOGIN_AT) || error.condition_failed_at(REHASH_AT) {
        return Err(LoginError::AccountChanged);
    }
    match error {
        TransactError::Cancelled(reasons) => {
            Err(anyhow!("login cancelled unexpectedly: {reasons:?}").into())
        }
        TransactError::Unexpected(error) => Err(error.context("open the session").into()),
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use capecontrol_shared::arbitrary::{check_refusal, config, json_request, request};
    use proptest::prelude::*;

    fn check(request: &Request) -> Result<(), TestCaseError> {
        match parse_attempt(request) {
            Ok(attempt) => {
                if let Some(email) = attempt.email {
                    prop_assert_eq!(Email::parse(email.as_str()).ok(), Some(email));
                }
            }
            Err(error) => check_refusal(&error)?,
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn any_login_request_parses_or_is_refused_as_documented(
            any in request("/auth/login"),
            json in json_request("/auth/login", &["email", "password"]),
        ) {
            check(&any)?;
            check(&json)?;
        }
    }
}
