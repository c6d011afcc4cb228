//! The caller of an endpoint that takes an access token: the verified claims, and the user as
//! stored now. A token minted before the user's last revocation (an older token version), or
//! for a deactivated or deleted account, is refused here.

use anyhow::Context;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, TransactWriteItem};
use lambda_http::Request;
use serde::Serialize;

use crate::db;
use crate::http;
use crate::jwt::{AccessClaims, Rejection};
use crate::state::AppState;
use crate::store::users::{self, Profile, UserItem};
use crate::store::{self as keys};

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("missing, invalid or revoked access token")]
    Unauthorized,
    #[error("no signing key")]
    KeysUnavailable,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

#[derive(Debug, Clone)]
pub struct Caller {
    pub claims: AccessClaims,
    pub profile: Profile,
}

pub async fn authenticate(state: &AppState, request: &Request) -> Result<Caller, AuthError> {
    let token = http::bearer_token(request).ok_or(AuthError::Unauthorized)?;
    let claims =
        state
            .tokens
            .verify(token, &state.keys)
            .await
            .map_err(|rejection| match rejection {
                Rejection::Invalid => AuthError::Unauthorized,
                Rejection::KeysUnavailable(_) => AuthError::KeysUnavailable,
            })?;
    let key = keys::key(users::pk(&claims.sub), users::PROFILE_SK);
    let item: Option<UserItem> = db::get(&state.dynamo, state.table(), key)
        .await
        .context("read the caller")?;
    let profile = item
        .map(|item| item.profile)
        .filter(|p| p.is_active && p.token_version == claims.tv)
        .ok_or(AuthError::Unauthorized)?;
    Ok(Caller { claims, profile })
}

/// A check that holds while the caller's account is as `profile` read it: it exists, is active
/// and has the same token version. Put beside a write that names the caller, so that a write
/// landing after the account's deletion (or a revocation) is refused instead of being left
/// behind by the erasure.
pub fn still_current(table: &str, profile: &Profile) -> anyhow::Result<TransactWriteItem> {
    let check = ConditionCheck::builder()
        .table_name(table)
        .set_key(Some(keys::key(users::pk(&profile.id), users::PROFILE_SK)))
        .condition_expression("token_version = :tv AND is_active = :yes")
        .expression_attribute_values(":tv", AttributeValue::N(profile.token_version.to_string()))
        .expression_attribute_values(":yes", AttributeValue::Bool(true))
        .build()
        .context("build the caller check")?;
    Ok(TransactWriteItem::builder().condition_check(check).build())
}

/// Writes `item` (new: an audit entry naming the caller) on condition that the caller is still
/// as read ([`still_current`]); [`AuthError::Unauthorized`] when they are not.
pub async fn put_as_caller(
    state: &AppState,
    profile: &Profile,
    item: &impl Serialize,
) -> Result<(), AuthError> {
    let items = vec![
        db::put_new(state.table(), item)?,
        still_current(state.table(), profile)?,
    ];
    match db::transact(&state.dynamo, items).await {
        Ok(()) => Ok(()),
        Err(error) if error.condition_failed_at(1) => Err(AuthError::Unauthorized),
        Err(db::TransactError::Cancelled(reasons)) => Err(AuthError::Unexpected(anyhow::anyhow!(
            "caller write cancelled: {reasons:?}"
        ))),
        Err(db::TransactError::Unexpected(error)) => {
            Err(AuthError::Unexpected(error.context("write as the caller")))
        }
    }
}
