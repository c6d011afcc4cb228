//! `password_resets`, and email verifications, which work alike: one item per one-time token,
//! keyed by its SHA-256, plus one pointer item per user naming the current token, so that a new
//! token supersedes older ones in the same transaction that writes it.
//!
//! | item | pk | sk | gsi1 |
//! |---|---|---|---|
//! | reset token | `RESET#<sha256 hex>` | `RESET` | `USERRESETS#<user id>` / `<created_at>` |
//! | current reset | `USER#<user id>` | `RESET` | |
//! | verification token | `VERIFY#<sha256 hex>` | `VERIFY` | `USERVERIFY#<user id>` / `<created_at>` |
//! | current verification | `USER#<user id>` | `VERIFY` | |
//!
//! Columns: user_id, expires_at (also the TTL), is_used, ip_address, user_agent, created_at,
//! used_at. The schema's raw `token` column becomes the hash in the key.

use serde::{Deserialize, Serialize};

use super::users::{self, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    PasswordReset,
    EmailVerification,
}

impl Purpose {
    /// The sort key of the token item and of the user's pointer item.
    pub fn sk(self) -> &'static str {
        match self {
            Self::PasswordReset => "RESET",
            Self::EmailVerification => "VERIFY",
        }
    }

    pub fn entity(self) -> &'static str {
        match self {
            Self::PasswordReset => "password_reset",
            Self::EmailVerification => "email_verification",
        }
    }

    pub fn pointer_entity(self) -> &'static str {
        match self {
            Self::PasswordReset => "current_password_reset",
            Self::EmailVerification => "current_email_verification",
        }
    }

    pub fn pk(self, token_hash: &str) -> String {
        format!("{}#{token_hash}", self.sk())
    }

    pub fn pointer_pk(self, user: &UserId) -> String {
        users::pk(user)
    }

    /// The token hash of a token item's partition key of this purpose.
    pub fn parse_pk(self, pk: &str) -> Option<&str> {
        super::after(pk.strip_prefix(self.sk())?, "#")
    }

    pub fn parse_pointer_pk(self, pk: &str) -> Option<UserId> {
        users::parse_pk(pk)
    }

    pub fn parse_user_index_pk(self, pk: &str) -> Option<UserId> {
        let prefix = match self {
            Self::PasswordReset => "USERRESETS#",
            Self::EmailVerification => "USERVERIFY#",
        };
        UserId::parse(super::after(pk, prefix)?)
    }

    pub fn user_index_pk(self, user: &UserId) -> String {
        match self {
            Self::PasswordReset => format!("USERRESETS#{user}"),
            Self::EmailVerification => format!("USERVERIFY#{user}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OneTimeTokenItem {
    pub pk: String,
    pub sk: String,
    pub gsi1pk: String,
    pub gsi1sk: String,
    pub entity: String,
    pub user_id: UserId,
    /// The canonical address the token was sent to.
    pub email: String,
    pub expires_at: String,
    pub expires_epoch: i64,
    pub is_used: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    pub created_at: String,
    pub ttl: i64,
}

/// Names the user's one valid token of a purpose.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurrentTokenItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    pub token_hash: String,
    pub ttl: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_pinned() {
        let user = UserId::parse("0b7e4cf2-5d7a-4f57-9a51-2d4f0c1e9b3a").expect("uuid");
        let reset = Purpose::PasswordReset;
        let verify = Purpose::EmailVerification;
        assert_eq!(reset.pk("ff00"), "RESET#ff00");
        assert_eq!(reset.sk(), "RESET");
        assert_eq!(
            reset.pointer_pk(&user),
            "USER#0b7e4cf2-5d7a-4f57-9a51-2d4f0c1e9b3a"
        );
        assert_eq!(
            reset.user_index_pk(&user),
            "USERRESETS#0b7e4cf2-5d7a-4f57-9a51-2d4f0c1e9b3a"
        );
        assert_eq!(verify.pk("ff00"), "VERIFY#ff00");
        assert_eq!(verify.sk(), "VERIFY");
        assert_eq!(
            verify.user_index_pk(&user),
            "USERVERIFY#0b7e4cf2-5d7a-4f57-9a51-2d4f0c1e9b3a"
        );
    }
}
