//! Reading earnings items, writing a record on condition that it is unchanged since it was
//! read, and retrying when it was.

use anyhow::Context;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use capecontrol_shared::db;
use capecontrol_shared::state::AppState;
use capecontrol_shared::store::earnings::{self, AgentItem, EarningsRecord, MarketplaceId};
use capecontrol_shared::store::users::UserId;
use capecontrol_shared::store::{self as keys};
use lambda_http::{Request, RequestExt};
use std::future::Future;
use std::time::Duration;

use crate::EarningsError;

/// How often a write whose record changed under it is recomputed and tried again. Each
/// failed try means another write succeeded, so the record always makes progress; the bound
/// keeps one request from looping under heavy contention (it then answers `record_busy`).
pub(crate) const MAX_ATTEMPTS: u32 = 30;

pub(crate) const DEFAULT_PAGE: usize = 50;
pub(crate) const MAX_PAGE: usize = 100;

/// The outcome of one optimistic try.
pub(crate) enum Attempt<T> {
    Done(T),
    /// The record's version moved between the read and the write.
    Changed,
}

/// Runs `attempt` until it is done, fails, or the record changed [`MAX_ATTEMPTS`] times.
pub(crate) async fn retrying<T, F, Fut>(mut attempt: F) -> Result<T, EarningsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Attempt<T>, EarningsError>>,
{
    for tries in 0..MAX_ATTEMPTS {
        match attempt().await? {
            Attempt::Done(value) => return Ok(value),
            Attempt::Changed => tokio::time::sleep(backoff(tries)).await,
        }
    }
    tracing::warn!(
        event = "earnings_record_busy",
        "record kept changing; gave up"
    );
    Err(EarningsError::Busy)
}

/// Short waits (1 to 32 ms): the next try only needs the winning write to have landed.
fn backoff(tries: u32) -> Duration {
    Duration::from_millis(1) + db::jitter(4 << tries.min(3))
}

pub(crate) async fn load_record(
    state: &AppState,
    developer: &UserId,
    agent: &MarketplaceId,
) -> Result<Option<EarningsRecord>, EarningsError> {
    let key = keys::key(earnings::record_pk(developer), earnings::record_sk(agent));
    let item = db::get_item(&state.dynamo, state.table(), key)
        .await
        .context("read the earnings record")?;
    Ok(item
        .map(|item| EarningsRecord::from_item(&item))
        .transpose()?)
}

/// The developer who owns `agent`, from its ownership item.
pub(crate) async fn owner_of(
    state: &AppState,
    agent: &MarketplaceId,
) -> Result<Option<UserId>, EarningsError> {
    let key = keys::key(earnings::agent_pk(agent), earnings::AGENT_SK);
    let item: Option<AgentItem> = db::get(&state.dynamo, state.table(), key)
        .await
        .context("read the agent's owner")?;
    Ok(item.map(|item| item.developer_id))
}

/// The record of `agent` as the caller may see it: an admin any, a developer only their own.
/// Someone else's agent is answered like a missing one.
pub(crate) async fn visible_record(
    state: &AppState,
    caller: &crate::access::Caller,
    agent: &MarketplaceId,
) -> Result<EarningsRecord, EarningsError> {
    let developer = if caller.is_admin() {
        owner_of(state, agent)
            .await?
            .ok_or(EarningsError::RecordNotFound)?
    } else {
        caller.id.clone()
    };
    load_record(state, &developer, agent)
        .await?
        .ok_or(EarningsError::RecordNotFound)
}

/// Replaces the record with `next`, on condition that it still has the version `next` was
/// computed from, and that `extra` (a condition on the stored item) holds.
pub(crate) fn put_record(
    table: &str,
    next: &EarningsRecord,
    extra: Option<(&str, &str, AttributeValue)>,
) -> anyhow::Result<TransactWriteItem> {
    let read_version = next.version.checked_sub(1).context("record version")?;
    let mut condition = "version = :read_version".to_owned();
    let mut put = Put::builder()
        .table_name(table)
        .set_item(Some(next.to_item()))
        .expression_attribute_values(":read_version", AttributeValue::N(read_version.to_string()));
    if let Some((expression, name, value)) = extra {
        condition.push_str(" AND ");
        condition.push_str(expression);
        put = put.expression_attribute_values(name, value);
    }
    let put = put
        .condition_expression(condition)
        .build()
        .context("build the record put")?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// The `limit` query parameter: 1 to [`MAX_PAGE`], [`DEFAULT_PAGE`] when absent.
pub(crate) fn page_size(request: &Request) -> Result<usize, EarningsError> {
    let Some(text) = query(request, "limit") else {
        return Ok(DEFAULT_PAGE);
    };
    text.parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_PAGE).contains(n))
        .ok_or_else(|| {
            EarningsError::field("limit", "invalid_limit", "The limit must be 1 to 100.")
        })
}

pub(crate) fn query(request: &Request, name: &str) -> Option<String> {
    request
        .query_string_parameters_ref()
        .and_then(|params| params.first(name))
        .map(str::to_owned)
}
