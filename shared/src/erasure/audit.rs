//! ON DELETE SET NULL for audit entries: an entry by the deleted user loses `user_id`, its
//! gsi1 keys (so it leaves the user's index), `ip_address` and `user_agent`; in any entry
//! about them, metadata values that name them (their id) or hold personal fields (`email`,
//! `ip_address`, `user_agent`) become null. The entry itself stays until its retention TTL.

use anyhow::Context;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use serde_json::Value;

use super::query::Partition;
use super::{Budget, Progress};
use crate::state::AppState;
use crate::store::deletions::TombstoneItem;
use crate::store::users::UserId;
use crate::store::{self as keys, audit_log, Item, PK, SK};

const PERSONAL_METADATA: [&str; 3] = ["email", "ip_address", "user_agent"];
const OWN_PERSONAL_FIELDS: [&str; 5] = ["user_id", "gsi1pk", "gsi1sk", "ip_address", "user_agent"];

/// Every entry in the user's audit index, a transaction per page.
pub(super) async fn detach(
    state: &AppState,
    tomb: &TombstoneItem,
    budget: &mut Budget,
) -> anyhow::Result<Progress> {
    let index = Partition::index(audit_log::user_index_pk(&tomb.user_id));
    super::drain(state, &index, budget, |items| {
        let mut writes = Vec::new();
        for item in items {
            writes.extend(anonymized(state.table(), item, &tomb.user_id)?);
        }
        Ok(writes)
    })
    .await
}

/// The update that detaches `entry` from `user`, or None when it holds nothing of theirs. Its
/// condition fails when the entry expired meanwhile, so it never recreates one.
pub(super) fn anonymized(
    table: &str,
    entry: &Item,
    user: &UserId,
) -> anyhow::Result<Option<TransactWriteItem>> {
    let text = |name: &str| {
        entry
            .get(name)
            .and_then(|v| v.as_s().ok())
            .map(String::as_str)
    };
    let own = text("user_id") == Some(user.as_str());
    let metadata = text("metadata").and_then(|m| cleaned_metadata(m, user));
    if !own && metadata.is_none() {
        return Ok(None);
    }
    let (Some(pk), Some(sk)) = (text(PK), text(SK)) else {
        anyhow::bail!("an audit entry without its key");
    };
    let mut expression = String::new();
    let mut update = Update::builder()
        .table_name(table)
        .set_key(Some(keys::key(pk, sk)))
        .condition_expression("attribute_exists(pk)");
    if let Some(metadata) = metadata {
        expression.push_str("SET metadata = :metadata ");
        update = update.expression_attribute_values(":metadata", AttributeValue::S(metadata));
    }
    if own {
        expression.push_str(&format!("REMOVE {}", OWN_PERSONAL_FIELDS.join(", ")));
    }
    let update = update
        .update_expression(expression.trim_end())
        .build()
        .context("build an audit entry's anonymization")?;
    Ok(Some(TransactWriteItem::builder().update(update).build()))
}

/// The metadata with every value naming `user` or holding a personal field set to null; None
/// when nothing changes (or it is not a JSON object, which no writer produces).
fn cleaned_metadata(metadata: &str, user: &UserId) -> Option<String> {
    let Ok(Value::Object(mut map)) = serde_json::from_str::<Value>(metadata) else {
        return None;
    };
    let mut changed = false;
    for (key, value) in &mut map {
        let personal = PERSONAL_METADATA.contains(&key.as_str()) && !value.is_null();
        if personal || value.as_str() == Some(user.as_str()) {
            *value = Value::Null;
            changed = true;
        }
    }
    changed.then(|| Value::Object(map).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_naming_the_user_and_personal_fields_become_null() {
        let user = UserId::generate();
        let metadata = serde_json::json!({
            "developer_id": user.as_str(), "agent_id": "a-1", "email": "x@example.com"
        })
        .to_string();
        let cleaned = cleaned_metadata(&metadata, &user).expect("changed");
        let value: Value = serde_json::from_str(&cleaned).expect("json");
        assert_eq!(value["developer_id"], Value::Null);
        assert_eq!(value["email"], Value::Null);
        assert_eq!(value["agent_id"], "a-1");
        assert_eq!(cleaned_metadata(&cleaned, &user), None);
    }
}
