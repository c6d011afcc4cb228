//! Sessions: one item per refresh-token family (one family per login). The family id is the
//! `sid` claim of every access token the family yields. Revoking a family ends every refresh
//! token in it, because each rotation checks the family in the same transaction.
//!
//! | item | pk | sk |
//! |---|---|---|
//! | session | `USER#<user id>` | `SESSION#<family id>` |
//!
//! Per-user listing is `Query pk = USER#<id> AND begins_with(sk, "SESSION#")`; every login is
//! its own item, so a user with many sessions never grows one item.

use serde::{Deserialize, Serialize};

use super::users::{self, UserId};

pub const SK_PREFIX: &str = "SESSION#";
pub const ENTITY: &str = "session";

pub fn pk(user: &UserId) -> String {
    users::pk(user)
}

pub fn sk(family_id: &str) -> String {
    format!("{SK_PREFIX}{family_id}")
}

pub fn parse_pk(pk: &str) -> Option<UserId> {
    users::parse_pk(pk)
}

/// The family id of a session sort key.
pub fn parse_sk(sk: &str) -> Option<&str> {
    super::after(sk, SK_PREFIX)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    pub family_id: String,
    pub user_id: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    pub created_at: String,
    pub used_at: String,
    /// The absolute end of the session, however active it is (RFC 3339 and epoch seconds).
    pub expires_at: String,
    pub expires_epoch: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_reason: Option<String>,
    pub ttl: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_pinned() {
        let user = UserId::parse("0b7e4cf2-5d7a-4f57-9a51-2d4f0c1e9b3a").expect("uuid");
        assert_eq!(pk(&user), "USER#0b7e4cf2-5d7a-4f57-9a51-2d4f0c1e9b3a");
        assert_eq!(sk("fam-1"), "SESSION#fam-1");
    }
}
