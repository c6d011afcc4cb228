//! `GET /earnings[?developer_id=&limit=&cursor=]`: a developer's records, by agent id, with
//! totals per currency over all of them; `GET /earnings/{agent_id}[?limit=&cursor=]`: one
//! record with its entries, newest first. Both are key queries on the base table with
//! consistent reads, paginated by signed cursors.

use anyhow::Context;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue;
use capecontrol_shared::cursor::{self, Purpose};
use capecontrol_shared::keyring::KeySet;
use capecontrol_shared::state::AppState;
use capecontrol_shared::store::earnings::{self, EarningsRecord, LedgerEntry, MarketplaceId};
use capecontrol_shared::store::users::UserId;
use capecontrol_shared::store::{self as keys, Item};
use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde_json::{json, Value};

use crate::access;
use crate::records::{self, page_size, query};
use crate::{view, Answer, EarningsError};

pub(crate) async fn list(state: &AppState, request: &Request) -> Result<Answer, EarningsError> {
    let caller = access::caller(state, request).await?;
    let named = match query(request, "developer_id") {
        None => None,
        Some(text) => Some(UserId::parse(&text).ok_or_else(|| {
            EarningsError::field(
                "developer_id",
                "invalid_id",
                "A user id (a lowercase UUID).",
            )
        })?),
    };
    let developer = caller.developer_in_scope(named)?;
    let limit = page_size(request)?;
    let scope = format!("records:{developer}");
    let (keys, after) = resume_after(state, request, &scope).await?;

    let all = all_records(state, &developer).await?;
    let totals = view::totals(&all)?;
    let remaining: Vec<&EarningsRecord> = all
        .iter()
        .filter(|r| after.as_deref().is_none_or(|a| r.agent_id.as_str() > a))
        .collect();
    let page = &remaining[..remaining.len().min(limit)];
    let next = (remaining.len() > limit)
        .then(|| page.last())
        .flatten()
        .map(|last| cursor::encode(&keys, Purpose::Earnings, &scope, last.agent_id.as_str()));
    let body = json!({
        "developer_id": developer,
        "records": page.iter().map(|r| view::record(r)).collect::<Vec<_>>(),
        "totals": totals,
        "next": next,
    });
    Ok(Answer::json(StatusCode::OK, &body))
}

pub(crate) async fn record(
    state: &AppState,
    request: &Request,
    agent: &str,
) -> Result<Answer, EarningsError> {
    let caller = access::caller(state, request).await?;
    let agent = MarketplaceId::parse(agent).ok_or(EarningsError::RecordNotFound)?;
    let limit = page_size(request)?;
    let scope = format!("entries:{agent}");
    let (keys, after) = resume_after(state, request, &scope).await?;

    let record = records::visible_record(state, &caller, &agent).await?;
    let (entries, last_key) = entries_page(state, &agent, limit, after).await?;
    let next = last_key.map(|sk| cursor::encode(&keys, Purpose::Earnings, &scope, &sk));
    let body = json!({
        "record": view::record(&record),
        "entries": entries.iter().map(view::entry).collect::<Vec<Value>>(),
        "next": next,
    });
    Ok(Answer::json(StatusCode::OK, &body))
}

/// The keys that sign this listing's cursors, and the position its `cursor` parameter names.
async fn resume_after(
    state: &AppState,
    request: &Request,
    scope: &str,
) -> Result<(KeySet, Option<String>), EarningsError> {
    let keys = (state.keys.keys().await).map_err(|_| EarningsError::KeysUnavailable)?;
    let after = match query(request, "cursor") {
        Some(text) => Some(
            cursor::decode(&keys, Purpose::Earnings, scope, &text)
                .map_err(|_| EarningsError::InvalidCursor)?,
        ),
        None => None,
    };
    Ok((keys, after))
}

/// Every record of the developer, ordered by agent id (the sort key).
async fn all_records(
    state: &AppState,
    developer: &UserId,
) -> Result<Vec<EarningsRecord>, EarningsError> {
    let items = state
        .dynamo
        .query()
        .table_name(state.table())
        .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
        .expression_attribute_values(":pk", AttributeValue::S(earnings::record_pk(developer)))
        .expression_attribute_values(
            ":prefix",
            AttributeValue::S(earnings::RECORD_SK_PREFIX.to_owned()),
        )
        .consistent_read(true)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<Item>, _>>()
        .await
        .map_err(|e| anyhow::anyhow!("query records: {}", DisplayErrorContext(&e)))?;
    let records = items.iter().map(EarningsRecord::from_item);
    Ok(records.collect::<anyhow::Result<Vec<_>>>()?)
}

/// One page of the agent's entries, newest first, and the sort key to continue after.
async fn entries_page(
    state: &AppState,
    agent: &MarketplaceId,
    limit: usize,
    after: Option<String>,
) -> Result<(Vec<LedgerEntry>, Option<String>), EarningsError> {
    let pk = earnings::agent_pk(agent);
    let start = after.map(|sk| keys::key(pk.clone(), sk));
    let output = state
        .dynamo
        .query()
        .table_name(state.table())
        .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
        .expression_attribute_values(":pk", AttributeValue::S(pk))
        .expression_attribute_values(
            ":prefix",
            AttributeValue::S(earnings::ENTRY_SK_PREFIX.to_owned()),
        )
        .scan_index_forward(false)
        .limit(i32::try_from(limit).context("page size")?)
        .set_exclusive_start_key(start)
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("query entries: {}", DisplayErrorContext(&e)))?;
    let entries = output.items().iter().map(LedgerEntry::from_item);
    let entries = entries.collect::<anyhow::Result<Vec<_>>>()?;
    let last = output
        .last_evaluated_key()
        .and_then(|key| key.get(keys::SK))
        .and_then(|sk| sk.as_s().ok())
        .cloned();
    Ok((entries, last))
}
