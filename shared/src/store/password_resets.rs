//! `password_resets`: one item per reset token, keyed by its SHA-256, plus one pointer item per
//! user naming the current token, so that a new request supersedes older ones in the same
//! transaction that writes it.
//!
//! | item | pk | sk | gsi1 |
//! |---|---|---|---|
//! | reset token | `RESET#<sha256 hex>` | `RESET` | `USERRESETS#<user id>` / `<created_at>` |
//! | current reset | `USER#<user id>` | `RESET` | |
//!
//! Columns: user_id, expires_at (also the TTL), is_used, ip_address, user_agent, created_at,
//! used_at. The schema's raw `token` column becomes the hash in the key.

use super::users::{self, UserId};

pub const SK: &str = "RESET";
pub const CURRENT_SK: &str = "RESET";
pub const ENTITY: &str = "password_reset";

pub fn pk(token_hash: &str) -> String {
    format!("RESET#{token_hash}")
}

pub fn current_pk(user: &UserId) -> String {
    users::pk(user)
}

pub fn user_index_pk(user: &UserId) -> String {
    format!("USERRESETS#{user}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_pinned() {
        let user = UserId::parse("0b7e4cf2-5d7a-4f57-9a51-2d4f0c1e9b3a").expect("uuid");
        assert_eq!(pk("ff00"), "RESET#ff00");
        assert_eq!(
            current_pk(&user),
            "USER#0b7e4cf2-5d7a-4f57-9a51-2d4f0c1e9b3a"
        );
        assert_eq!(CURRENT_SK, "RESET");
        assert_eq!(
            user_index_pk(&user),
            "USERRESETS#0b7e4cf2-5d7a-4f57-9a51-2d4f0c1e9b3a"
        );
    }
}
