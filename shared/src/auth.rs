//! The caller of an endpoint that takes an access token: the verified claims, and the user as
//! stored now. A token minted before the user's last revocation (an older token version), or
//! for a deactivated or deleted account, is refused here.

use anyhow::Context;
use lambda_http::Request;

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
