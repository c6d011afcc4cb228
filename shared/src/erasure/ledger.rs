//! A deleted developer's earnings: each record's sale and payout entries are moved under the
//! deletion's pseudonym (without `developer_id`, with a TTL at the end of the financial
//! retention), their sale and payout id items deleted and the postings' audit entries cleaned
//! of the developer's id; then the agent's ownership item and the record go, together, so the
//! agent id is freed only once nothing of the old ledger is left under it.

use anyhow::Context;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};

use super::audit::anonymized;
use super::query::Partition;
use super::{delete_of, Budget, Progress};
use crate::clock;
use crate::db;
use crate::state::AppState;
use crate::store::deletions::{self, TombstoneItem};
use crate::store::earnings::{self, MarketplaceId};
use crate::store::{self as keys, audit_log, users, Item, PK, SK, TTL};

/// Four writes each (the entry, its copy, its id item, its audit entry): 96 per transaction.
const ENTRIES_PER_TRANSACTION: i32 = 24;

pub(super) async fn purge(
    state: &AppState,
    tomb: &TombstoneItem,
    budget: &mut Budget,
) -> anyhow::Result<Progress> {
    let records = Partition::base(users::pk(&tomb.user_id)).prefix(earnings::RECORD_SK_PREFIX);
    loop {
        let (found, _) = records.page(state, 1, None).await?;
        let Some(record) = found.first() else {
            return Ok(Progress::Complete);
        };
        let agent = text(record, "agent_id")
            .and_then(MarketplaceId::parse)
            .context("an earnings record without a valid agent id")?;
        if move_entries(state, tomb, &agent, budget).await? == Progress::Pending {
            return Ok(Progress::Pending);
        }
        if !budget.take() {
            return Ok(Progress::Pending);
        }
        close_record(state, tomb, record, &agent).await?;
    }
}

async fn move_entries(
    state: &AppState,
    tomb: &TombstoneItem,
    agent: &MarketplaceId,
    budget: &mut Budget,
) -> anyhow::Result<Progress> {
    let partition = Partition::base(earnings::agent_pk(agent)).prefix(earnings::ENTRY_SK_PREFIX);
    loop {
        let (entries, _) = partition.page(state, ENTRIES_PER_TRANSACTION, None).await?;
        if entries.is_empty() {
            return Ok(Progress::Complete);
        }
        if !budget.take() {
            return Ok(Progress::Pending);
        }
        let mut writes = Vec::new();
        for entry in &entries {
            writes.push(delete_of(state.table(), entry)?);
            writes.push(retained_copy(state, tomb, agent, entry)?);
        }
        let ids = id_items(state, tomb, &entries).await?;
        for id_item in &ids {
            writes.push(delete_of(state.table(), id_item)?);
        }
        for entry in linked_audit(state, &ids).await? {
            writes.extend(anonymized(state.table(), &entry, &tomb.user_id)?);
        }
        super::write(state, writes).await?;
    }
}

/// The entry as a financial record: every attribute but the developer's id (and the creator's,
/// were it the developer), under the pseudonym, expiring at the end of the retention.
fn retained_copy(
    state: &AppState,
    tomb: &TombstoneItem,
    agent: &MarketplaceId,
    entry: &Item,
) -> anyhow::Result<TransactWriteItem> {
    let sk = text(entry, SK).context("an entry without its key")?;
    let deleted_at =
        clock::parse_rfc3339(&tomb.deleted_at).context("tombstone time is not RFC 3339")?;
    let expires = clock::epoch_seconds(deleted_at + state.settings.financial_retention);
    let mut copy = entry.clone();
    copy.remove("developer_id");
    if text(entry, "created_by") == Some(tomb.user_id.as_str()) {
        copy.remove("created_by");
    }
    let s = |value: String| AttributeValue::S(value);
    copy.insert(PK.into(), s(deletions::retained_pk(&tomb.pseudonym)));
    copy.insert(SK.into(), s(deletions::retained_sk(agent.as_str(), sk)));
    copy.insert("entity".into(), s(deletions::RETAINED_ENTITY.to_owned()));
    copy.insert(TTL.into(), AttributeValue::N(expires.to_string()));
    let put = Put::builder()
        .table_name(state.table())
        .set_item(Some(copy))
        .build()
        .context("build a retained entry")?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// The sale and payout id items of `entries` that belong to the deleted developer.
async fn id_items(
    state: &AppState,
    tomb: &TombstoneItem,
    entries: &[Item],
) -> anyhow::Result<Vec<Item>> {
    let keys: Vec<Item> = entries
        .iter()
        .filter_map(|entry| {
            let reference = MarketplaceId::parse(text(entry, "reference")?)?;
            Some(match text(entry, "entry_type")? {
                "sale" => keys::key(earnings::sale_pk(&reference), earnings::SALE_SK),
                _ => keys::key(earnings::payout_pk(&reference), earnings::PAYOUT_SK),
            })
        })
        .collect();
    let found = db::batch_get(&state.dynamo, state.table(), keys).await?;
    Ok(found
        .into_iter()
        .filter(|item| text(item, "developer_id") == Some(tomb.user_id.as_str()))
        .collect())
}

/// The audit entries that `items` name by `audit_id` and that still exist.
pub(super) async fn linked_audit(state: &AppState, items: &[Item]) -> anyhow::Result<Vec<Item>> {
    let keys: Vec<Item> = items
        .iter()
        .filter_map(|item| text(item, "audit_id"))
        .map(|id| keys::key(audit_log::pk(id), audit_log::SK))
        .collect();
    db::batch_get(&state.dynamo, state.table(), keys).await
}

/// The record and its agent's ownership item, in one transaction, with the opening's audit
/// entry cleaned.
async fn close_record(
    state: &AppState,
    tomb: &TombstoneItem,
    record: &Item,
    agent: &MarketplaceId,
) -> anyhow::Result<()> {
    let owner_key = keys::key(earnings::agent_pk(agent), earnings::AGENT_SK);
    let owner = db::get_item(&state.dynamo, state.table(), owner_key)
        .await?
        .filter(|item| text(item, "developer_id") == Some(tomb.user_id.as_str()));
    let mut writes = vec![delete_of(state.table(), record)?];
    if let Some(owner) = owner {
        writes.push(delete_of(state.table(), &owner)?);
        for entry in linked_audit(state, std::slice::from_ref(&owner)).await? {
            writes.extend(anonymized(state.table(), &entry, &tomb.user_id)?);
        }
    }
    super::write(state, writes).await
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}
