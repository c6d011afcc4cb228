//! Erasure of a deleted account, after the transaction that made it dead (see the account
//! function): everything keyed to the user is deleted (ON DELETE CASCADE), audit entries about
//! them are detached and their personal fields cleared (ON DELETE SET NULL), and sale and
//! payout entries are moved under a pseudonym with a retention TTL. The work runs from the
//! tombstone in transactions of at most 100 writes, one [`Budget`] unit each; every step is
//! idempotent (deletes and puts of fixed content, updates that only remove), so a purge cut
//! short anywhere is finished by running it again, and two purges of one account may overlap.
//! The last step deletes the tombstone with an `account_deleted` audit entry.

mod audit;
mod ledger;
pub mod query;

use anyhow::Context;
use aws_sdk_dynamodb::types::{Delete, TransactWriteItem};
use std::time::{Duration, Instant};

use crate::audit::{AuditEntry, AuditEvent};
use crate::clock;
use crate::db::{self, TransactError};
use crate::email::Email;
use crate::request_meta::RequestMeta;
use crate::state::AppState;
use crate::store::deletions::{self, TombstoneItem};
use crate::store::password_resets::Purpose;
use crate::store::{self as keys, refresh_tokens, users, Item, PK, SK};
use crate::throttle::rate;

pub use query::export_key;

/// Writes per transaction: DynamoDB's limit is 100 (and 4 MB, far above these small items).
pub const WRITES_PER_TRANSACTION: usize = 100;

/// How much a purge run may do: transactions until a deadline, or (tests) a count of them.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    deadline: Option<Instant>,
    transactions: Option<u32>,
}

impl Budget {
    pub fn time(limit: Duration) -> Self {
        Self {
            deadline: Some(Instant::now() + limit),
            transactions: None,
        }
    }

    /// At most `count` transactions: a purge stopped at a chosen point.
    pub fn transactions(count: u32) -> Self {
        Self {
            deadline: None,
            transactions: Some(count),
        }
    }

    /// Takes one transaction's worth; false once the budget is spent.
    fn take(&mut self) -> bool {
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return false;
        }
        match &mut self.transactions {
            Some(0) => false,
            Some(left) => {
                *left -= 1;
                true
            }
            None => true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    Complete,
    /// The budget ran out; the tombstone stays for the next run.
    Pending,
}

/// Purges one dead account as far as `budget` allows.
pub async fn purge(
    state: &AppState,
    tomb: &TombstoneItem,
    budget: &mut Budget,
) -> anyhow::Result<Progress> {
    let steps = [
        Step::Ledger,
        Step::Partition,
        Step::Index(refresh_tokens::user_index_pk(&tomb.user_id)),
        Step::Index(Purpose::PasswordReset.user_index_pk(&tomb.user_id)),
        Step::Index(Purpose::EmailVerification.user_index_pk(&tomb.user_id)),
        Step::Audit,
        Step::RateWindows,
    ];
    for step in steps {
        let progress = match step {
            Step::Ledger => ledger::purge(state, tomb, budget).await,
            Step::Partition => purge_partition(state, tomb, budget).await,
            Step::Index(ref partition) => purge_index(state, partition, budget).await,
            Step::Audit => audit::detach(state, tomb, budget).await,
            Step::RateWindows => purge_rate_windows(state, tomb, budget).await,
        };
        if progress.with_context(|| format!("purge step {}", step.name()))? == Progress::Pending {
            return Ok(Progress::Pending);
        }
    }
    finish(state, tomb, budget).await
}

#[derive(Debug)]
enum Step {
    Ledger,
    Partition,
    Index(String),
    Audit,
    RateWindows,
}

impl Step {
    fn name(&self) -> &'static str {
        match self {
            Self::Ledger => "ledger",
            Self::Partition => "user partition",
            Self::Index(_) => "user index",
            Self::Audit => "audit",
            Self::RateWindows => "rate windows",
        }
    }
}

/// The tombstones waiting for a purge, oldest first (at most `limit`).
pub async fn pending(state: &AppState, limit: i32) -> anyhow::Result<Vec<TombstoneItem>> {
    let (items, _) = query::Partition::index(deletions::PENDING_INDEX_PK)
        .page(state, limit, None)
        .await?;
    items.into_iter().map(db::from_item).collect()
}

/// The tombstone of `user`, if their account is being purged.
pub async fn tombstone(
    state: &AppState,
    user: &users::UserId,
) -> anyhow::Result<Option<TombstoneItem>> {
    let key = keys::key(deletions::tombstone_pk(user), deletions::TOMBSTONE_SK);
    db::get(&state.dynamo, state.table(), key).await
}

/// What one run of [`purge_pending`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeRun {
    pub completed: usize,
    /// Purges that failed with an error; their tombstones stay for the next run.
    pub failed: usize,
}

/// Purges every pending account within one shared budget (the scheduled function). A purge that
/// fails is logged and left for the next run, so one damaged account does not hold up the rest.
pub async fn purge_pending(state: &AppState, mut budget: Budget) -> anyhow::Result<PurgeRun> {
    let mut run = PurgeRun::default();
    for tomb in pending(state, 25).await? {
        match purge(state, &tomb, &mut budget).await {
            Ok(Progress::Complete) => run.completed += 1,
            Ok(Progress::Pending) => break,
            Err(error) => {
                run.failed += 1;
                tracing::error!(
                    user_id = %tomb.user_id,
                    error = format!("{error:#}"),
                    event = "purge_failed",
                    "purge of one account failed; the next run retries it"
                );
            }
        }
    }
    Ok(run)
}

/// The rest of the user's partition: sessions, reset and verification pointers, anything left.
async fn purge_partition(
    state: &AppState,
    tomb: &TombstoneItem,
    budget: &mut Budget,
) -> anyhow::Result<Progress> {
    let partition = query::Partition::base(users::pk(&tomb.user_id));
    drain(state, &partition, budget, |items| {
        items.iter().map(|i| delete_of(state.table(), i)).collect()
    })
    .await
}

/// Items found by one of the user's gsi1 partitions (refresh tokens, resets, verifications).
/// The index lags the table a little, so an item already deleted may come back once more:
/// deleting it again is harmless.
async fn purge_index(
    state: &AppState,
    partition: &str,
    budget: &mut Budget,
) -> anyhow::Result<Progress> {
    let index = query::Partition::index(partition);
    drain(state, &index, budget, |items| {
        items.iter().map(|i| delete_of(state.table(), i)).collect()
    })
    .await
}

/// Writes `writes_for` each page of `partition` until a read finds it empty (every page's
/// writes take its items out of the partition), a transaction per page.
async fn drain(
    state: &AppState,
    partition: &query::Partition,
    budget: &mut Budget,
    writes_for: impl Fn(&[Item]) -> anyhow::Result<Vec<TransactWriteItem>>,
) -> anyhow::Result<Progress> {
    loop {
        let (items, _) = partition
            .page(state, WRITES_PER_TRANSACTION as i32, None)
            .await?;
        if items.is_empty() {
            return Ok(Progress::Complete);
        }
        if !budget.take() {
            return Ok(Progress::Pending);
        }
        write(state, writes_for(&items)?).await?;
    }
}

/// Rate-limit windows keyed by the address (they expire within the hour, but TTL deletion
/// may lag two days).
async fn purge_rate_windows(
    state: &AppState,
    tomb: &TombstoneItem,
    budget: &mut Budget,
) -> anyhow::Result<Progress> {
    let email = Email::parse(&tomb.email).context("tombstone email is not canonical")?;
    let found = stored_rate_windows(state, &email).await?;
    for batch in found.chunks(WRITES_PER_TRANSACTION) {
        if !delete_all(state, batch, budget).await? {
            return Ok(Progress::Pending);
        }
    }
    Ok(Progress::Complete)
}

/// The rate-limit windows of `email` that exist now.
pub async fn stored_rate_windows(state: &AppState, email: &Email) -> anyhow::Result<Vec<Item>> {
    let candidates = rate::email_window_keys(&state.settings.rate_limits, email, clock::now());
    let mut found = Vec::new();
    for chunk in candidates.chunks(100) {
        found.extend(db::batch_get(&state.dynamo, state.table(), chunk.to_vec()).await?);
    }
    Ok(found)
}

/// The tombstone goes with the `account_deleted` entry, which names neither the user nor
/// the request's origin; `retained_as` is the pseudonym of kept financial entries.
async fn finish(
    state: &AppState,
    tomb: &TombstoneItem,
    budget: &mut Budget,
) -> anyhow::Result<Progress> {
    if !budget.take() {
        return Ok(Progress::Pending);
    }
    let meta = RequestMeta {
        request_id: String::new(),
        source_ip: None,
        user_agent: None,
        endpoint: "DELETE /users/me",
    };
    let audit = AuditEntry::success(AuditEvent::AccountDeleted)
        .detail("retained_as", tomb.pseudonym.as_str())
        .into_item(&meta, clock::now(), state.settings.audit_retention);
    let delete = Delete::builder()
        .table_name(state.table())
        .set_key(Some(keys::key(&tomb.pk, &tomb.sk)))
        .condition_expression("attribute_exists(pk)")
        .build()
        .context("build the tombstone delete")?;
    let items = vec![
        TransactWriteItem::builder().delete(delete).build(),
        db::put_new(state.table(), &audit)?,
    ];
    match db::transact(&state.dynamo, items).await {
        // Another run finished first: its entry is the one.
        Ok(()) => {}
        Err(error) if error.condition_failed_at(0) => {}
        Err(TransactError::Cancelled(reasons)) => {
            anyhow::bail!("final purge step cancelled: {reasons:?}")
        }
        Err(TransactError::Unexpected(error)) => return Err(error),
    }
    tracing::info!(event = "account_deleted", "account purge complete");
    Ok(Progress::Complete)
}

/// Deletes `items` (by their keys) in one transaction, if the budget allows.
async fn delete_all(state: &AppState, items: &[Item], budget: &mut Budget) -> anyhow::Result<bool> {
    if !budget.take() {
        return Ok(false);
    }
    let writes = items
        .iter()
        .map(|item| delete_of(state.table(), item))
        .collect::<anyhow::Result<Vec<_>>>()?;
    write(state, writes).await?;
    Ok(true)
}

fn delete_of(table: &str, item: &Item) -> anyhow::Result<TransactWriteItem> {
    let key: Item = [PK, SK]
        .iter()
        .filter_map(|name| item.get(*name).map(|v| ((*name).to_owned(), v.clone())))
        .collect();
    let delete = Delete::builder()
        .table_name(table)
        .set_key(Some(key))
        .build()
        .context("build a purge delete")?;
    Ok(TransactWriteItem::builder().delete(delete).build())
}

/// One transaction of writes that carry no condition, or only the audit updates'
/// `attribute_exists(pk)`: an entry deleted by its TTL meanwhile is left out and the rest
/// written again.
async fn write(state: &AppState, mut writes: Vec<TransactWriteItem>) -> anyhow::Result<()> {
    if writes.is_empty() {
        return Ok(());
    }
    for _ in 0..3 {
        match db::transact(&state.dynamo, writes.clone()).await {
            Ok(()) => return Ok(()),
            Err(TransactError::Cancelled(reasons)) => {
                let before = writes.len();
                writes = writes
                    .into_iter()
                    .zip(&reasons)
                    .filter(|(_, r)| r.code() != Some("ConditionalCheckFailed"))
                    .map(|(w, _)| w)
                    .collect();
                if writes.len() == before {
                    anyhow::bail!("purge transaction cancelled: {reasons:?}");
                }
                if writes.is_empty() {
                    return Ok(());
                }
            }
            Err(TransactError::Unexpected(error)) => return Err(error),
        }
    }
    anyhow::bail!("purge transaction kept losing items")
}
