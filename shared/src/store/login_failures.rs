//! Consecutive failed logins of one canonical email, counted whether or not an account has that
//! address, so that throttling tells nothing about which addresses are registered. The item
//! shares the email's partition with the credentials item: login reads both in one
//! BatchGetItem.
//!
//! | item | pk | sk |
//! |---|---|---|
//! | login failures | `EMAIL#<canonical email>` | `LOGIN_FAILURES` |
//!
//! Attributes: `failures` (consecutive), `last_failure_ms` and `blocked_until_ms` (epoch
//! milliseconds), `locked_out`, and `ttl` 30 days after the last failure; a locked-out item has
//! no `ttl`, since a lockout lasts until a password reset deletes the item.

use serde::{Deserialize, Serialize};

use super::{credentials, Item};
use crate::email::Email;

pub const SK: &str = "LOGIN_FAILURES";
pub const ENTITY: &str = "login_failures";

pub fn pk(email: &Email) -> String {
    credentials::pk(email)
}

/// The address of the item's partition key (the credentials item's).
pub fn parse_pk(pk: &str) -> Option<Email> {
    credentials::parse_pk(pk)
}

pub fn key(email: &Email) -> Item {
    super::key(pk(email), SK)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginFailuresItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    pub failures: u32,
    pub last_failure_ms: i64,
    /// Login waits until this instant; in the past when no wait is in force.
    pub blocked_until_ms: i64,
    pub locked_out: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_pinned() {
        let email = Email::parse("Ann@Example.com").expect("email");
        assert_eq!(pk(&email), "EMAIL#ann@example.com");
        assert_eq!(SK, "LOGIN_FAILURES");
        assert_eq!(ENTITY, "login_failures");
    }
}
