//! The email item: one per canonical address. Written with `attribute_not_exists(pk)` in the
//! same transaction as the profile, it is what makes emails unique (a GSI lookup could not: GSIs
//! are eventually consistent). It also holds the password hash and a copy of the account state
//! login needs, so login reads one item; every change of that state updates both items in one
//! transaction.
//!
//! | item | pk | sk |
//! |---|---|---|
//! | credentials | `EMAIL#<canonical email>` | `CREDENTIALS` |

use serde::{Deserialize, Serialize};

use super::users::{Role, UserId};
use crate::email::Email;

pub const SK: &str = "CREDENTIALS";
pub const ENTITY: &str = "credentials";

pub fn pk(email: &Email) -> String {
    format!("EMAIL#{email}")
}

/// The address of an `EMAIL#<canonical email>` key; None unless it is in canonical form.
pub fn parse_pk(pk: &str) -> Option<Email> {
    let text = super::after(pk, "EMAIL#")?;
    Email::parse(text)
        .ok()
        .filter(|email| email.as_str() == text)
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct CredentialsItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    pub user_id: UserId,
    pub email: String,
    pub password_hash: String,
    pub role: Role,
    pub is_active: bool,
    pub is_verified: bool,
    pub token_version: u64,
}

impl std::fmt::Debug for CredentialsItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialsItem")
            .field("user_id", &self.user_id)
            .field("role", &self.role)
            .field("is_active", &self.is_active)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_pinned() {
        let email = Email::parse("Ann@Example.com").expect("email");
        assert_eq!(pk(&email), "EMAIL#ann@example.com");
        assert_eq!(SK, "CREDENTIALS");
    }
}
