//! Records and entries as responses show them: the schema's column names, amounts as strings
//! with two decimal places, rates with four.

use capecontrol_shared::store::earnings::{EarningsRecord, EntryKind, LedgerEntry};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Serialize)]
struct RecordView<'a> {
    agent_id: &'a str,
    agent_name: Option<&'a str>,
    developer_id: &'a str,
    total_sales: String,
    commission_rate: String,
    revenue_share: String,
    last_payout_amount: String,
    last_payout_at: Option<&'a str>,
    total_paid_out: String,
    balance: String,
    currency: &'a str,
    is_active: bool,
    created_at: &'a str,
    updated_at: Option<&'a str>,
}

pub(crate) fn record(record: &EarningsRecord) -> Value {
    let view = RecordView {
        agent_id: record.agent_id.as_str(),
        agent_name: record.agent_name.as_deref(),
        developer_id: record.developer_id.as_str(),
        total_sales: record.total_sales.to_string(),
        commission_rate: record.commission_rate.to_string(),
        revenue_share: record.revenue_share.to_string(),
        last_payout_amount: record.last_payout_amount.to_string(),
        last_payout_at: record.last_payout_at.as_deref(),
        total_paid_out: record.total_paid_out.to_string(),
        balance: record.balance.to_string(),
        currency: record.currency.as_str(),
        is_active: record.is_active,
        created_at: &record.created_at,
        updated_at: record.updated_at.as_deref(),
    };
    serde_json::to_value(view).unwrap_or(Value::Null)
}

#[derive(Debug, Serialize)]
struct EntryView<'a> {
    entry_id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    agent_id: &'a str,
    developer_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sale_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payout_id: Option<&'a str>,
    amount: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    commission_rate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    commission: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    developer_share: Option<String>,
    currency: &'a str,
    balance_after: String,
    created_by: &'a str,
    created_at: &'a str,
}

pub(crate) fn entry(entry: &LedgerEntry) -> Value {
    let reference = Some(entry.reference.as_str());
    let (sale_id, payout_id) = match entry.kind {
        EntryKind::Sale => (reference, None),
        EntryKind::Payout => (None, reference),
    };
    let view = EntryView {
        entry_id: &entry.entry_id,
        kind: entry.kind.as_str(),
        agent_id: entry.agent_id.as_str(),
        developer_id: entry.developer_id.as_str(),
        sale_id,
        payout_id,
        amount: entry.amount.to_string(),
        commission_rate: entry.split.map(|s| s.commission_rate.to_string()),
        commission: entry.split.map(|s| s.commission.to_string()),
        developer_share: entry.split.map(|s| s.developer_share.to_string()),
        currency: entry.currency.as_str(),
        balance_after: entry.balance_after.to_string(),
        created_by: entry.created_by.as_str(),
        created_at: &entry.created_at,
    };
    serde_json::to_value(view).unwrap_or(Value::Null)
}

#[derive(Debug, Default)]
struct Sums {
    total_sales: Decimal,
    revenue_share: Decimal,
    total_paid_out: Decimal,
    balance: Decimal,
}

/// The records' totals per currency (amounts in different currencies are never added). The
/// sums of many records may exceed one record's range, so they are plain decimals.
pub(crate) fn totals(records: &[EarningsRecord]) -> anyhow::Result<Value> {
    let mut by_currency: BTreeMap<&str, Sums> = BTreeMap::new();
    for record in records {
        let sums = by_currency.entry(record.currency.as_str()).or_default();
        sums.total_sales = add(sums.total_sales, record.total_sales.as_decimal())?;
        sums.revenue_share = add(sums.revenue_share, record.revenue_share.as_decimal())?;
        sums.total_paid_out = add(sums.total_paid_out, record.total_paid_out.as_decimal())?;
        sums.balance = add(sums.balance, record.balance.as_decimal())?;
    }
    let rows = by_currency.into_iter().map(|(currency, sums)| {
        serde_json::json!({
            "currency": currency,
            "total_sales": cents(sums.total_sales),
            "revenue_share": cents(sums.revenue_share),
            "total_paid_out": cents(sums.total_paid_out),
            "balance": cents(sums.balance),
        })
    });
    Ok(Value::Array(rows.collect()))
}

fn add(a: Decimal, b: Decimal) -> anyhow::Result<Decimal> {
    a.checked_add(b)
        .ok_or_else(|| anyhow::anyhow!("totals overflow"))
}

fn cents(mut value: Decimal) -> String {
    value.rescale(2);
    value.to_string()
}
