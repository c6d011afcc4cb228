//! Refresh tokens (the schema's `tokens` table, for `token_type = 'refresh'`): one item per
//! token, keyed by the SHA-256 of the token; the token itself is never stored. Access tokens
//! are stateless JWTs and have no item: they are revoked through the user's token version.
//! Reset tokens live in [`super::password_resets`].
//!
//! | item | pk | sk | gsi1 |
//! |---|---|---|---|
//! | refresh token | `REFRESH#<sha256 hex>` | `REFRESH` | `USERTOKENS#<user id>` / `<created_at>` |
//!
//! gsi1 finds every token of a user for account deletion (ON DELETE CASCADE).
//!
//! The schema's `is_revoked` is derived: a token is dead once it has rotated (`rotated_at`,
//! the schema's `used_at`) beyond the grace window, or once its family is revoked.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::users::{Role, UserId};
use crate::clock;

pub const SK: &str = "REFRESH";
pub const ENTITY: &str = "refresh_token";

pub fn pk(token_hash: &str) -> String {
    format!("REFRESH#{token_hash}")
}

pub fn user_index_pk(user: &UserId) -> String {
    format!("USERTOKENS#{user}")
}

/// The token hash of a refresh token's partition key.
pub fn parse_pk(pk: &str) -> Option<&str> {
    super::after(pk, "REFRESH#")
}

pub fn parse_user_index_pk(pk: &str) -> Option<UserId> {
    UserId::parse(super::after(pk, "USERTOKENS#")?)
}

/// The creation time and hash prefix of a user index sort key.
pub fn parse_user_index_sk(sk: &str) -> Option<(OffsetDateTime, &str)> {
    super::split_time_sk(sk)
}

pub fn user_index_sk(created_at: OffsetDateTime, token_hash: &str) -> String {
    format!(
        "{}#{}",
        clock::rfc3339(created_at),
        &token_hash[..token_hash.len().min(16)]
    )
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefreshTokenItem {
    pub pk: String,
    pub sk: String,
    pub gsi1pk: String,
    pub gsi1sk: String,
    pub entity: String,
    pub token_type: String,
    pub user_id: UserId,
    pub family_id: String,
    /// What the access tokens minted from this token carry; the rotation transaction checks
    /// the user's current token version and state, so a stale copy cannot outlive a revocation.
    pub role: Role,
    pub email_verified: bool,
    pub token_version: u64,
    pub created_at: String,
    pub expires_at: String,
    pub expires_epoch: i64,
    /// The absolute end of the family; a rotated token never outlives it.
    pub family_expires_epoch: i64,
    /// Epoch milliseconds of the first rotation; absent while the token is unused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated_at_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    pub ttl: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn keys_are_pinned() {
        let user = UserId::parse("0b7e4cf2-5d7a-4f57-9a51-2d4f0c1e9b3a").expect("uuid");
        let hash = "ab".repeat(32);
        assert_eq!(pk(&hash), format!("REFRESH#{hash}"));
        assert_eq!(
            user_index_pk(&user),
            "USERTOKENS#0b7e4cf2-5d7a-4f57-9a51-2d4f0c1e9b3a"
        );
        assert_eq!(
            user_index_sk(datetime!(2026-12-04 00:00:00 UTC), &hash),
            "2026-12-04T00:00:00.000Z#abababababababab"
        );
    }
}
