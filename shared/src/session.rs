//! Minting a session's refresh tokens and access tokens: shared by login (a new family) and
//! refresh (the next token of a family).

use serde::Serialize;
use time::OffsetDateTime;

use crate::clock;
use crate::jwt::Subject;
use crate::keyring::SigningKey;
use crate::opaque_token::OpaqueToken;
use crate::request_meta::RequestMeta;
use crate::state::AppState;
use crate::store::refresh_tokens::{self, RefreshTokenItem};

/// What login and refresh answer with.
#[derive(Debug, Serialize)]
pub struct TokenPair {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub refresh_token: String,
}

/// A new refresh token of `subject`'s family and its item, which expires after the idle
/// lifetime or at the family's end, whichever is first.
pub fn mint_refresh_token(
    state: &AppState,
    subject: &Subject,
    family_expires_epoch: i64,
    meta: &RequestMeta,
    now: OffsetDateTime,
) -> anyhow::Result<(OpaqueToken, RefreshTokenItem)> {
    let token = OpaqueToken::generate()?;
    let hash = token.hash();
    let idle_end = clock::epoch_seconds(now + state.settings.refresh_idle_ttl);
    let expires_epoch = idle_end.min(family_expires_epoch);
    let expires_at = OffsetDateTime::from_unix_timestamp(expires_epoch)?;
    let item = RefreshTokenItem {
        pk: refresh_tokens::pk(&hash),
        sk: refresh_tokens::SK.to_owned(),
        gsi1pk: refresh_tokens::user_index_pk(&subject.user),
        gsi1sk: refresh_tokens::user_index_sk(now, &hash),
        entity: refresh_tokens::ENTITY.to_owned(),
        token_type: "refresh".to_owned(),
        user_id: subject.user.clone(),
        family_id: subject.session.clone(),
        role: subject.role,
        email_verified: subject.email_verified,
        token_version: subject.token_version,
        created_at: clock::rfc3339(now),
        expires_at: clock::rfc3339(expires_at),
        expires_epoch,
        family_expires_epoch,
        rotated_at_ms: None,
        user_agent: meta.user_agent.clone(),
        ip_address: meta.source_ip.clone(),
        ttl: expires_epoch,
    };
    Ok((token, item))
}

/// Signs the access token that goes with `refresh_token`.
pub fn token_pair(
    state: &AppState,
    subject: &Subject,
    key: &SigningKey,
    refresh_token: &OpaqueToken,
    now: OffsetDateTime,
) -> anyhow::Result<TokenPair> {
    let (access_token, claims) = state.tokens.issue(subject, key, now)?;
    Ok(TokenPair {
        access_token,
        token_type: "Bearer",
        expires_in: claims.exp - claims.iat,
        refresh_token: refresh_token.expose().to_owned(),
    })
}
