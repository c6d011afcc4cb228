//! `GET /admin/audit?user_id=&event_type=&success=&from=&to=&limit=&cursor=`: audit entries
//! newest first, from the index the filters name: gsi1 (`AUDITUSER#<id>`) with a user, else gsi2
//! (`AUDITEVENT#<type>#<day>`) with an event type, else gsi3 (`AUDITDAY#<day>#<success>`), one
//! or both outcomes. The other filters, and expiry, are filter expressions. The range is
//! bounded (at most [`MAX_SPAN_DAYS`]; the last [`DEFAULT_SPAN_DAYS`] days by default), so a
//! page costs at most `page::MAX_QUERIES` Queries. Expired entries (TTL passed, not yet deleted)
//! are never listed.

use aws_sdk_dynamodb::types::AttributeValue;
use capecontrol_shared::audit::AuditEvent;
use capecontrol_shared::clock;
use capecontrol_shared::db;
use capecontrol_shared::query::QueryParams;
use capecontrol_shared::request_meta::RequestMeta;
use capecontrol_shared::state::AppState;
use capecontrol_shared::store::audit_log::{self, AuditItem};
use capecontrol_shared::store::users::UserId;
use capecontrol_shared::store::{GSI1, GSI2, GSI3, TTL};
use lambda_http::Request;
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

use crate::page::{self, Filter, Listing, Partition, Start};
use crate::users::{empty_range, page_size, time_bound};
use crate::AdminError;

pub(crate) const MAX_SPAN_DAYS: i64 = 31;
pub(crate) const DEFAULT_SPAN_DAYS: i64 = 7;
const PARAMS: [&str; 7] = [
    "user_id",
    "event_type",
    "success",
    "from",
    "to",
    "limit",
    "cursor",
];

#[derive(Debug)]
struct Filters {
    user: Option<UserId>,
    event: Option<AuditEvent>,
    success: Option<bool>,
    limit: usize,
    scope: String,
}

pub(crate) async fn query(
    state: &AppState,
    request: &Request,
    meta: &RequestMeta,
) -> Result<Value, AdminError> {
    let start = Start::new(state, request, &PARAMS).await?;
    let filters = parse(&start.params)?;
    let now = clock::now();
    // The range is resolved once, on the first page, and travels in the signed cursor: the
    // defaults move with the clock, the listing must not.
    let (lower, upper) = match start.resume(&filters.scope)? {
        Some(position) => {
            let (lower, upper) = position.split_once('|').ok_or(AdminError::InvalidCursor)?;
            (lower.to_owned(), upper.to_owned())
        }
        None => range(&start.params, now)?,
    };

    let listing = Listing {
        buckets: buckets(&filters, &lower, &upper)?,
        filter: filter(&filters, now),
        lower: lower.clone(),
        upper,
        limit: filters.limit,
    };
    let page = page::fetch(state, &listing).await?;
    let items = page.items.into_iter().map(db::from_item::<AuditItem>);
    let entries = items.collect::<anyhow::Result<Vec<_>>>()?;
    let read = (filters.scope.as_str(), entries.len());
    start
        .record(state, meta, AuditEvent::AdminAuditRead, read)
        .await?;
    let next = page
        .next
        .map(|at| start.cursor(&filters.scope, &format!("{lower}|{at}")));
    let entries: Vec<Value> = entries.iter().map(view).collect();
    Ok(json!({ "entries": entries, "next": next }))
}

fn parse(params: &QueryParams) -> Result<Filters, AdminError> {
    let user = params
        .get("user_id")
        .map(|text| {
            UserId::parse(text).ok_or_else(|| {
                AdminError::field("user_id", "invalid_id", "A user id (a lowercase UUID).")
            })
        })
        .transpose()?;
    let event = params
        .get("event_type")
        .map(|text| {
            AuditEvent::parse(text).ok_or_else(|| {
                AdminError::field("event_type", "invalid_choice", "An audit event type.")
            })
        })
        .transpose()?;
    let success = match params.get("success") {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => {
            return Err(AdminError::field(
                "success",
                "invalid_choice",
                "true or false.",
            ))
        }
    };
    let scope = format!(
        "audit|{}|{}|{}|{}|{}",
        params.get("user_id").unwrap_or("*"),
        params.get("event_type").unwrap_or("*"),
        params.get("success").unwrap_or("*"),
        params.get("from").unwrap_or("*"),
        params.get("to").unwrap_or("*"),
    );
    Ok(Filters {
        user,
        event,
        success,
        limit: page_size(params)?,
        scope,
    })
}

/// `from` (inclusive) and `to` (exclusive) in the stored form: by default the last
/// [`DEFAULT_SPAN_DAYS`] days up to now; at most [`MAX_SPAN_DAYS`] apart.
fn range(params: &QueryParams, now: OffsetDateTime) -> Result<(String, String), AdminError> {
    let to = time_bound(params, "to")?;
    let from = time_bound(params, "from")?;
    let upper = to.unwrap_or_else(|| clock::rfc3339(now + Duration::milliseconds(1)));
    let end = clock::parse_rfc3339(&upper).ok_or(AdminError::InvalidCursor)?;
    let lower = from.unwrap_or_else(|| clock::rfc3339(end - Duration::days(DEFAULT_SPAN_DAYS)));
    let start = clock::parse_rfc3339(&lower).ok_or(AdminError::InvalidCursor)?;
    if start >= end {
        return Err(empty_range());
    }
    if end - start > Duration::days(MAX_SPAN_DAYS) {
        return Err(AdminError::field(
            "",
            "range_too_long",
            "from and to may be at most 31 days apart.",
        ));
    }
    Ok((lower, upper))
}

/// The partitions to read, newest first: the user's one, or each day's of the range.
fn buckets(filters: &Filters, lower: &str, upper: &str) -> Result<Vec<Vec<Partition>>, AdminError> {
    if let Some(user) = &filters.user {
        let pk = audit_log::user_index_pk(user);
        return Ok(vec![vec![Partition { index: GSI1, pk }]]);
    }
    let day = |text: &str| {
        let instant = text.get(..24).and_then(clock::parse_rfc3339);
        instant.ok_or(AdminError::InvalidCursor)
    };
    let (first, mut at) = (day(lower)?, day(upper)?);
    let mut buckets = Vec::new();
    while clock::day(at) >= clock::day(first) {
        let bucket = match (filters.event, filters.success) {
            (Some(event), _) => vec![Partition {
                index: GSI2,
                pk: audit_log::event_index_pk(event.as_str(), at),
            }],
            (None, Some(success)) => vec![day_partition(at, success)],
            (None, None) => vec![day_partition(at, true), day_partition(at, false)],
        };
        buckets.push(bucket);
        at -= Duration::days(1);
    }
    Ok(buckets)
}

fn day_partition(at: OffsetDateTime, success: bool) -> Partition {
    Partition {
        index: GSI3,
        pk: audit_log::day_index_pk(at, success),
    }
}

/// Expiry always; the event type and outcome where the index does not already fix them.
fn filter(filters: &Filters, now: OffsetDateTime) -> Filter {
    let mut filter = Filter::default();
    filter.require(
        TTL,
        AttributeValue::N(clock::epoch_seconds(now).to_string()),
        ">",
    );
    if filters.user.is_some() {
        if let Some(event) = filters.event {
            let value = AttributeValue::S(event.as_str().to_owned());
            filter.require("event_type", value, "=");
        }
    }
    if filters.user.is_some() || filters.event.is_some() {
        if let Some(success) = filters.success {
            let value = AttributeValue::Bool(success);
            filter.require("success", value, "=");
        }
    }
    filter
}

/// An entry as the schema's `audit_logs` row, `metadata` parsed back into JSON.
fn view(entry: &AuditItem) -> Value {
    let metadata = entry
        .metadata
        .as_deref()
        .and_then(|text| serde_json::from_str::<Value>(text).ok());
    json!({
        "id": entry.id,
        "user_id": entry.user_id,
        "event_type": entry.event_type,
        "event_description": entry.event_description,
        "ip_address": entry.ip_address,
        "user_agent": entry.user_agent,
        "endpoint": entry.endpoint,
        "success": entry.success,
        "error_message": entry.error_message,
        "metadata": metadata,
        "created_at": entry.created_at,
    })
}
