//! `audit_logs`: one item per event under its own random id, so writes spread over partitions.
//! The schema's four indexes become three sparse GSIs, each partitioned by day where it is
//! ordered by time so that no partition takes every write of a kind:
//!
//! | item | pk | sk | gsi1 (by user) | gsi2 (by event type) | gsi3 (by time and outcome) |
//! |---|---|---|---|---|---|
//! | entry | `AUDIT#<id>` | `AUDIT` | `AUDITUSER#<user id>` / `<created_at>#<id>` | `AUDITEVENT#<type>#<day>` / `<created_at>#<id>` | `AUDITDAY#<day>#<success>` / `<created_at>#<id>` |
//!
//! `GET /admin/audit` (functions/admin) reads gsi1 for a user, gsi2 for an event type and gsi3
//! otherwise, always skipping entries whose `ttl` has passed.
//!
//! ON DELETE SET NULL: deleting a user removes `user_id` and the gsi1 keys (and clears the
//! personal fields); the entry itself stays until its retention TTL.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::users::UserId;
use crate::clock;

pub const SK: &str = "AUDIT";
pub const ENTITY: &str = "audit";

pub fn pk(id: &str) -> String {
    format!("AUDIT#{id}")
}

pub fn user_index_pk(user: &UserId) -> String {
    format!("AUDITUSER#{user}")
}

pub fn event_index_pk(event_type: &str, at: OffsetDateTime) -> String {
    format!("AUDITEVENT#{event_type}#{}", clock::day(at))
}

pub fn day_index_pk(at: OffsetDateTime, success: bool) -> String {
    format!("AUDITDAY#{}#{success}", clock::day(at))
}

pub fn index_sk(at: OffsetDateTime, id: &str) -> String {
    format!("{}#{id}", clock::rfc3339(at))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditItem {
    pub pk: String,
    pub sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi1pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi1sk: Option<String>,
    pub gsi2pk: String,
    pub gsi2sk: String,
    pub gsi3pk: String,
    pub gsi3sk: String,
    pub entity: String,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
    pub event_type: String,
    pub event_description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    pub endpoint: String,
    pub success: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// A JSON object as text, as the schema has it; never holds a password, hash or token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
    pub created_at: String,
    pub ttl: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn keys_are_pinned() {
        let at = datetime!(2026-12-04 13:25:55.123 UTC);
        let user = UserId::parse("0b7e4cf2-5d7a-4f57-9a51-2d4f0c1e9b3a").expect("uuid");
        assert_eq!(pk("a1"), "AUDIT#a1");
        assert_eq!(
            user_index_pk(&user),
            "AUDITUSER#0b7e4cf2-5d7a-4f57-9a51-2d4f0c1e9b3a"
        );
        assert_eq!(
            event_index_pk("login_failed", at),
            "AUDITEVENT#login_failed#2026-12-04"
        );
        assert_eq!(day_index_pk(at, false), "AUDITDAY#2026-12-04#false");
        assert_eq!(index_sk(at, "a1"), "2026-12-04T13:25:55.123Z#a1");
    }
}
