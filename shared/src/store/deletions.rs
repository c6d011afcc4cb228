//! Account deletion: the tombstone a deletion writes in the transaction that makes the account
//! dead, from which the purge of everything else resumes, and the pseudonymised copies of a
//! deleted developer's sale and payout entries, kept as financial records.
//!
//! | item | pk | sk | gsi1 |
//! |---|---|---|---|
//! | tombstone | `PURGE#<user id>` | `PURGE` | `PURGES` / `<deleted_at>#<user id>` |
//! | retained entry | `RETAINED#<pseudonym>` | `ENTRY#<agent id>#<created_at>#<entry id>` | |
//!
//! The scheduled purge finds pending tombstones in the one gsi1 partition `PURGES` (deletions
//! are rare, so it is never hot). The pseudonym is a random id written only on the tombstone
//! and the retained entries: once the purge deletes the tombstone, nothing links it to the
//! user. Retained entries carry a `ttl` at the end of the financial retention.

use serde::{Deserialize, Serialize};

use super::users::UserId;

pub const TOMBSTONE_SK: &str = "PURGE";
pub const TOMBSTONE_ENTITY: &str = "account_purge";
pub const PENDING_INDEX_PK: &str = "PURGES";
pub const RETAINED_ENTITY: &str = "retained_entry";

pub fn tombstone_pk(user: &UserId) -> String {
    format!("PURGE#{user}")
}

pub fn pending_index_sk(deleted_at: &str, user: &UserId) -> String {
    format!("{deleted_at}#{user}")
}

pub fn retained_pk(pseudonym: &str) -> String {
    format!("RETAINED#{pseudonym}")
}

/// `entry_sk` is the entry's own sort key (`ENTRY#<created_at>#<entry id>`).
pub fn retained_sk(agent_id: &str, entry_sk: &str) -> String {
    let rest = entry_sk
        .strip_prefix(super::earnings::ENTRY_SK_PREFIX)
        .unwrap_or(entry_sk);
    format!("ENTRY#{agent_id}#{rest}")
}

/// What the purge needs to find everything of a dead account. `email` is the canonical address
/// (for the rate-limit windows keyed by it); the whole item goes at the end of the purge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TombstoneItem {
    pub pk: String,
    pub sk: String,
    pub gsi1pk: String,
    pub gsi1sk: String,
    pub entity: String,
    pub user_id: UserId,
    pub email: String,
    pub pseudonym: String,
    pub deleted_at: String,
}

impl TombstoneItem {
    pub fn new(user: &UserId, email: &str, deleted_at: &str) -> Self {
        Self {
            pk: tombstone_pk(user),
            sk: TOMBSTONE_SK.to_owned(),
            gsi1pk: PENDING_INDEX_PK.to_owned(),
            gsi1sk: pending_index_sk(deleted_at, user),
            entity: TOMBSTONE_ENTITY.to_owned(),
            user_id: user.clone(),
            email: email.to_owned(),
            pseudonym: uuid::Uuid::new_v4().to_string(),
            deleted_at: deleted_at.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_pinned() {
        let user = UserId::parse("0b7e4cf2-5d7a-4f57-9a51-2d4f0c1e9b3a").expect("uuid");
        assert_eq!(
            tombstone_pk(&user),
            "PURGE#0b7e4cf2-5d7a-4f57-9a51-2d4f0c1e9b3a"
        );
        assert_eq!(
            pending_index_sk("2026-12-04T00:00:00.000Z", &user),
            "2026-12-04T00:00:00.000Z#0b7e4cf2-5d7a-4f57-9a51-2d4f0c1e9b3a"
        );
        assert_eq!(retained_pk("p1"), "RETAINED#p1");
        assert_eq!(
            retained_sk("agent-1", "ENTRY#2026-12-04T00:00:00.000Z#e1"),
            "ENTRY#agent-1#2026-12-04T00:00:00.000Z#e1"
        );
    }
}
