//! `developer_earnings`: one record per (developer, agent), an ownership item per agent (agent
//! ids are unique across the marketplace), an immutable entry per sale and payout, and one
//! idempotency item per sale id and payout id.
//!
//! | item | pk | sk | gsi1 |
//! |---|---|---|---|
//! | earnings record | `USER#<developer id>` | `EARNINGS#<agent id>` | `AGENTRECORDS#<agent id>` / `<created_at>` |
//! | agent ownership | `AGENT#<agent id>` | `AGENT` | |
//! | ledger entry | `AGENT#<agent id>` | `ENTRY#<created_at>#<entry id>` | |
//! | sale id taken | `SALE#<sale id>` | `SALE` | |
//! | payout id taken | `PAYOUT#<payout id>` | `PAYOUT` | |
//!
//! A developer's agents: `Query pk = USER#<id> AND begins_with(sk, "EARNINGS#")`. An agent's
//! entries newest first: `Query pk = AGENT#<id> AND begins_with(sk, "ENTRY#")`, descending.

use super::users::{self, UserId};

pub const RECORD_SK_PREFIX: &str = "EARNINGS#";
pub const AGENT_SK: &str = "AGENT";
pub const ENTRY_SK_PREFIX: &str = "ENTRY#";

pub fn record_pk(developer: &UserId) -> String {
    users::pk(developer)
}

pub fn record_sk(agent_id: &str) -> String {
    format!("{RECORD_SK_PREFIX}{agent_id}")
}

pub fn agent_records_index_pk(agent_id: &str) -> String {
    format!("AGENTRECORDS#{agent_id}")
}

pub fn agent_pk(agent_id: &str) -> String {
    format!("AGENT#{agent_id}")
}

pub fn entry_sk(created_at: &str, entry_id: &str) -> String {
    format!("{ENTRY_SK_PREFIX}{created_at}#{entry_id}")
}

pub fn sale_pk(sale_id: &str) -> String {
    format!("SALE#{sale_id}")
}

pub fn payout_pk(payout_id: &str) -> String {
    format!("PAYOUT#{payout_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_pinned() {
        let dev = UserId::parse("0b7e4cf2-5d7a-4f57-9a51-2d4f0c1e9b3a").expect("uuid");
        assert_eq!(record_pk(&dev), "USER#0b7e4cf2-5d7a-4f57-9a51-2d4f0c1e9b3a");
        assert_eq!(record_sk("agent-7"), "EARNINGS#agent-7");
        assert_eq!(agent_records_index_pk("agent-7"), "AGENTRECORDS#agent-7");
        assert_eq!(agent_pk("agent-7"), "AGENT#agent-7");
        assert_eq!(
            entry_sk("2026-12-04T00:00:00.000Z", "e1"),
            "ENTRY#2026-12-04T00:00:00.000Z#e1"
        );
        assert_eq!(sale_pk("s-1"), "SALE#s-1");
        assert_eq!(payout_pk("p-1"), "PAYOUT#p-1");
    }
}
