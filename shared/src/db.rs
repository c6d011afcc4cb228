//! DynamoDB writes: items from serde types, and transactions that retry DynamoDB's
//! TransactionConflict (another transaction touched one of the items at the same moment).
//! A conflicted transaction changed nothing, so running it again is safe.

use anyhow::Context;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{CancellationReason, KeysAndAttributes, Put, TransactWriteItem};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::Future;
use std::time::Duration;

use crate::store::Item;

pub const MAX_CONFLICT_RETRIES: u32 = 4;
const MAX_UNPROCESSED_RETRIES: u32 = 4;
const CONDITION_FAILED: &str = "ConditionalCheckFailed";
const CONFLICT: &str = "TransactionConflict";

#[derive(Debug, thiserror::Error)]
pub enum TransactError {
    /// A condition of the transaction was false: nothing was written. One reason per item, in
    /// the order the items were given.
    #[error("transaction cancelled by a condition")]
    Cancelled(Vec<CancellationReason>),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl TransactError {
    /// Whether the condition of the item at `index` is what failed.
    pub fn condition_failed_at(&self, index: usize) -> bool {
        match self {
            Self::Cancelled(reasons) => {
                reasons.get(index).and_then(|r| r.code()) == Some(CONDITION_FAILED)
            }
            Self::Unexpected(_) => false,
        }
    }

    /// The item as it stood when its condition failed (needs ReturnValuesOnConditionCheckFailure).
    pub fn item_at(&self, index: usize) -> Option<&Item> {
        match self {
            Self::Cancelled(reasons) => reasons.get(index).and_then(|r| r.item()),
            Self::Unexpected(_) => None,
        }
    }
}

pub fn to_item(value: &impl Serialize) -> anyhow::Result<Item> {
    serde_dynamo::to_item(value).context("convert a value into a DynamoDB item")
}

/// A Put that fails when an item with the same key already exists.
pub fn put_new(table: &str, value: &impl Serialize) -> anyhow::Result<TransactWriteItem> {
    put_new_item(table, to_item(value)?)
}

/// [`put_new`] of an item built by hand.
pub fn put_new_item(table: &str, item: Item) -> anyhow::Result<TransactWriteItem> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(pk)")
        .build()
        .context("build a conditional put")?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// A strongly consistent read of one item, converted into `T`.
pub async fn get<T: DeserializeOwned>(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    key: Item,
) -> anyhow::Result<Option<T>> {
    get_item(client, table, key)
        .await?
        .map(from_item)
        .transpose()
}

/// A strongly consistent read of one item, as stored.
pub async fn get_item(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    key: Item,
) -> anyhow::Result<Option<Item>> {
    let output = client
        .get_item()
        .table_name(table)
        .set_key(Some(key))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("get item: {}", DisplayErrorContext(&e)))?;
    Ok(output.item)
}

/// Strongly consistent reads of several items of one table in one BatchGetItem (at most 100
/// keys). Items come back in no particular order, absent ones missing; keys DynamoDB leaves
/// unprocessed (throughput) are asked for again, a few times.
pub async fn batch_get(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    keys: Vec<Item>,
) -> anyhow::Result<Vec<Item>> {
    let mut found = Vec::new();
    let mut pending = keys;
    for retries in 0..=MAX_UNPROCESSED_RETRIES {
        if pending.is_empty() {
            return Ok(found);
        }
        if retries > 0 {
            tokio::time::sleep(backoff(retries - 1)).await;
        }
        let request = KeysAndAttributes::builder()
            .set_keys(Some(pending))
            .consistent_read(true)
            .build()
            .context("build the batch read")?;
        let mut output = client
            .batch_get_item()
            .request_items(table, request)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("batch get items: {}", DisplayErrorContext(&e)))?;
        found.extend(
            output
                .responses
                .and_then(|mut r| r.remove(table))
                .unwrap_or_default(),
        );
        pending = output
            .unprocessed_keys
            .as_mut()
            .and_then(|u| u.remove(table))
            .map(|k| k.keys)
            .unwrap_or_default();
    }
    anyhow::bail!("batch read still unprocessed after {MAX_UNPROCESSED_RETRIES} retries")
}

pub fn from_item<T: DeserializeOwned>(item: Item) -> anyhow::Result<T> {
    serde_dynamo::from_item(item).context("convert a DynamoDB item")
}

/// Writes one item on its own (an entry that records a change that wrote nothing else).
pub async fn put_one(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    value: &impl Serialize,
) -> anyhow::Result<()> {
    client
        .put_item()
        .table_name(table)
        .set_item(Some(to_item(value)?))
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("put item: {}", DisplayErrorContext(&e)))?;
    Ok(())
}

/// A Put that replaces whatever item has the same key.
pub fn put(table: &str, value: &impl Serialize) -> anyhow::Result<TransactWriteItem> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(to_item(value)?))
        .build()
        .context("build a put")?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// Runs a transaction, retrying while DynamoDB reports only TransactionConflict.
pub async fn transact(
    client: &aws_sdk_dynamodb::Client,
    items: Vec<TransactWriteItem>,
) -> Result<(), TransactError> {
    retry_conflicts(|| {
        client
            .transact_write_items()
            .set_transact_items(Some(items.clone()))
            .send()
    })
    .await
    .map(|_| ())
}

/// Calls `send` until it succeeds, fails otherwise than by conflict, or has conflicted
/// [`MAX_CONFLICT_RETRIES`] times more, with jittered exponential backoff in between.
pub async fn retry_conflicts<F, Fut, T>(mut send: F) -> Result<T, TransactError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<TransactWriteItemsError, HttpResponse>>>,
{
    let mut retries = 0;
    loop {
        let error = match send().await {
            Ok(output) => return Ok(output),
            Err(error) => error,
        };
        match classify(error) {
            Classified::Conflict if retries < MAX_CONFLICT_RETRIES => {
                tokio::time::sleep(backoff(retries)).await;
                retries += 1;
            }
            Classified::Conflict => {
                return Err(anyhow::anyhow!(
                    "transaction still conflicting after {MAX_CONFLICT_RETRIES} retries"
                )
                .into())
            }
            Classified::Cancelled(reasons) => return Err(TransactError::Cancelled(reasons)),
            Classified::Other(error) => return Err(error.into()),
        }
    }
}

enum Classified {
    Conflict,
    Cancelled(Vec<CancellationReason>),
    Other(anyhow::Error),
}

fn classify(error: SdkError<TransactWriteItemsError, HttpResponse>) -> Classified {
    if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
        error.as_service_error()
    {
        let reasons = cancelled.cancellation_reasons().to_vec();
        let code = |r: &CancellationReason| r.code().unwrap_or("None").to_owned();
        let conflicted = reasons.iter().any(|r| code(r) == CONFLICT);
        let only_conflicts = reasons
            .iter()
            .all(|r| matches!(code(r).as_str(), CONFLICT | "None"));
        return if conflicted && only_conflicts {
            Classified::Conflict
        } else {
            Classified::Cancelled(reasons)
        };
    }
    let message = DisplayErrorContext(&error).to_string();
    Classified::Other(anyhow::Error::new(error).context(format!("transact write items: {message}")))
}

fn backoff(retries: u32) -> Duration {
    let base_ms = 10_u64 << retries.min(6);
    Duration::from_millis(base_ms) + jitter(base_ms)
}

/// A random wait below `ceiling_ms` milliseconds (none when the OS has no randomness to give).
pub fn jitter(ceiling_ms: u64) -> Duration {
    let mut byte = [0_u8; 1];
    let millis = getrandom::fill(&mut byte)
        .map(|()| u64::from(byte[0]) % ceiling_ms.max(1))
        .unwrap_or(0);
    Duration::from_millis(millis)
}

/// DynamoDB answers the emulator never gives, built for tests to inject.
#[cfg(any(test, feature = "test-support"))]
pub mod test_support {
    use super::*;
    use aws_sdk_dynamodb::types::error::TransactionCanceledException;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    /// A TransactionCanceledException with one reason code per item, as DynamoDB sends it.
    pub fn cancelled(codes: &[&str]) -> SdkError<TransactWriteItemsError, HttpResponse> {
        let reasons = codes
            .iter()
            .map(|c| CancellationReason::builder().code(*c).build());
        let exception = TransactionCanceledException::builder()
            .set_cancellation_reasons(Some(reasons.collect()))
            .build();
        let status = StatusCode::try_from(400).unwrap_or_else(|_| unreachable!("valid status"));
        let raw = HttpResponse::new(status, SdkBody::empty());
        SdkError::service_error(
            TransactWriteItemsError::TransactionCanceledException(exception),
            raw,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::cancelled;
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn conflicts_are_retried_until_the_transaction_goes_through() {
        let calls = AtomicU32::new(0);
        let result = retry_conflicts(|| {
            let call = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if call < 2 {
                    Err(cancelled(&["None", CONFLICT]))
                } else {
                    Ok(call)
                }
            }
        })
        .await;
        assert_eq!(result.expect("succeeds"), 2);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_failed_condition_is_returned_at_once_with_its_position() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = retry_conflicts(|| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(cancelled(&[CONDITION_FAILED, CONFLICT])) }
        })
        .await;
        let error = result.expect_err("cancelled");
        assert!(error.condition_failed_at(0));
        assert!(!error.condition_failed_at(1));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn endless_conflicts_give_up_after_the_retry_budget() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = retry_conflicts(|| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(cancelled(&[CONFLICT])) }
        })
        .await;
        assert!(matches!(result, Err(TransactError::Unexpected(_))));
        assert_eq!(calls.load(Ordering::SeqCst), MAX_CONFLICT_RETRIES + 1);
    }
}
