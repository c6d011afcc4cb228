//! One page of a newest-first listing merged from index partitions that share one sort-key
//! form (`<created_at>#<id>`), so that a single sort key is a position in all of them.
//!
//! The partitions come in buckets, newest first (one bucket per day for day-partitioned
//! indexes, or one bucket of several partitions); the partitions of a bucket are queried
//! together and merged. A partition that stops early (its Limit reached) leaves its last
//! evaluated key: only what lies at or above the highest such key is known in full, so the page
//! takes that much and queries again below it. The page gathers `limit + 1` items to know
//! whether more remain, and stops after [`MAX_QUERIES`] Queries with a cursor at the position
//! reached (such a page may be short).

use anyhow::Context;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue;
use capecontrol_shared::audit::{AuditEntry, AuditEvent};
use capecontrol_shared::auth;
use capecontrol_shared::clock;
use capecontrol_shared::cursor::{self, Purpose};
use capecontrol_shared::keyring::KeySet;
use capecontrol_shared::query::QueryParams;
use capecontrol_shared::request_meta::RequestMeta;
use capecontrol_shared::state::AppState;
use capecontrol_shared::store::users::Profile;
use capecontrol_shared::store::Item;
use futures::future::try_join_all;
use lambda_http::Request;
use std::collections::HashMap;

use crate::{access, AdminError};

/// What every listing starts from: the calling admin, the query (strictly parsed) and the keys
/// that sign its cursors.
#[derive(Debug)]
pub(crate) struct Start {
    pub caller: Profile,
    pub params: QueryParams,
    keys: KeySet,
}

impl Start {
    pub async fn new(
        state: &AppState,
        request: &Request,
        known: &[&'static str],
    ) -> Result<Self, AdminError> {
        let caller = access::admin(state, request).await?;
        let params = QueryParams::parse(request, known)?;
        let keys = state
            .keys
            .keys()
            .await
            .map_err(|_| AdminError::KeysUnavailable)?;
        Ok(Self {
            caller,
            params,
            keys,
        })
    }

    /// The position the `cursor` parameter names, if it was issued for `scope`.
    pub fn resume(&self, scope: &str) -> Result<Option<String>, AdminError> {
        let Some(text) = self.params.get("cursor") else {
            return Ok(None);
        };
        Ok(Some(cursor::decode(
            &self.keys,
            Purpose::Admin,
            scope,
            text,
        )?))
    }

    pub fn cursor(&self, scope: &str, position: &str) -> String {
        cursor::encode(&self.keys, Purpose::Admin, scope, position)
    }

    /// The listing's audit entry: who listed, with which filters, how many items.
    pub async fn record(
        &self,
        state: &AppState,
        meta: &RequestMeta,
        event: AuditEvent,
        (scope, count): (&str, usize),
    ) -> Result<(), AdminError> {
        let entry = AuditEntry::success(event)
            .user(&self.caller.id)
            .detail("filters", scope)
            .detail("count", count)
            .into_item(meta, clock::now(), state.settings.audit_retention);
        // Conditioned on the caller, so an entry never outlives the admin's erasure.
        auth::put_as_caller(state, &self.caller, &entry).await?;
        Ok(())
    }
}

/// The most Queries one page may cost: a 31-day audit range has 32 days of two partitions.
pub(crate) const MAX_QUERIES: usize = 64;

/// One index partition.
#[derive(Debug, Clone)]
pub(crate) struct Partition {
    pub index: &'static str,
    pub pk: String,
}

/// A non-key condition on the items (`FilterExpression`), with its names and values.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filter {
    pub clauses: Vec<String>,
    pub names: HashMap<String, String>,
    pub values: HashMap<String, AttributeValue>,
}

impl Filter {
    pub fn require(&mut self, name: &str, value: AttributeValue, operator: &str) {
        let n = self.clauses.len();
        self.clauses.push(format!("#f{n} {operator} :f{n}"));
        self.names.insert(format!("#f{n}"), name.to_owned());
        self.values.insert(format!(":f{n}"), value);
    }
}

/// What to list: sort keys from `lower` (inclusive) to `upper` (exclusive).
#[derive(Debug, Clone)]
pub(crate) struct Listing {
    pub buckets: Vec<Vec<Partition>>,
    pub lower: String,
    pub upper: String,
    pub limit: usize,
    pub filter: Filter,
}

#[derive(Debug)]
pub(crate) struct Page {
    pub items: Vec<Item>,
    /// The position to resume after (exclusive), when more may remain.
    pub next: Option<String>,
}

/// One partition's answer: items newest first, and its last evaluated sort key if it stopped
/// early.
struct Answer {
    items: Vec<(String, Item)>,
    stopped_at: Option<String>,
}

pub(crate) async fn fetch(state: &AppState, listing: &Listing) -> anyhow::Result<Page> {
    let want = listing.limit + 1;
    let mut found: Vec<(String, Item)> = Vec::new();
    let mut upper = listing.upper.clone();
    let mut queries = 0;
    for bucket in &listing.buckets {
        loop {
            if found.len() >= want {
                return Ok(finish(found, listing.limit));
            }
            if queries + bucket.len() > MAX_QUERIES {
                return Ok(Page {
                    items: found.into_iter().map(|(_, item)| item).collect(),
                    next: Some(upper),
                });
            }
            if listing.lower >= upper {
                break;
            }
            let need = want - found.len();
            queries += bucket.len();
            let answers = try_join_all(
                bucket
                    .iter()
                    .map(|p| query(state, p, listing, &upper, need + 1)),
            )
            .await?;
            let frontier = answers.iter().filter_map(|a| a.stopped_at.clone()).max();
            let mut known: Vec<(String, Item)> = answers
                .into_iter()
                .flat_map(|a| a.items)
                .filter(|(sk, _)| frontier.as_ref().is_none_or(|f| sk >= f))
                .collect();
            known.sort_by(|a, b| b.0.cmp(&a.0));
            known.truncate(need);
            let filled = known.len() == need;
            if let Some((sk, _)) = known.last() {
                upper.clone_from(sk);
            }
            found.extend(known);
            match frontier {
                _ if filled => {}
                Some(frontier) => upper = frontier,
                None => break,
            }
        }
    }
    Ok(finish(found, listing.limit))
}

fn finish(mut found: Vec<(String, Item)>, limit: usize) -> Page {
    let more = found.len() > limit;
    found.truncate(limit);
    let next = more
        .then(|| found.last().map(|(sk, _)| sk.clone()))
        .flatten();
    Page {
        items: found.into_iter().map(|(_, item)| item).collect(),
        next,
    }
}

async fn query(
    state: &AppState,
    partition: &Partition,
    listing: &Listing,
    upper: &str,
    limit: usize,
) -> anyhow::Result<Answer> {
    let (pk_name, sk_name) = (
        format!("{}pk", partition.index),
        format!("{}sk", partition.index),
    );
    let mut request = state
        .dynamo
        .query()
        .table_name(state.table())
        .index_name(partition.index)
        .key_condition_expression("#pk = :pk AND #sk BETWEEN :lower AND :upper")
        .expression_attribute_names("#pk", &pk_name)
        .expression_attribute_names("#sk", &sk_name)
        .expression_attribute_values(":pk", AttributeValue::S(partition.pk.clone()))
        .expression_attribute_values(":lower", AttributeValue::S(listing.lower.clone()))
        .expression_attribute_values(":upper", AttributeValue::S(upper.to_owned()))
        .scan_index_forward(false)
        .limit(i32::try_from(limit).context("page size")?);
    let filter = &listing.filter;
    if !filter.clauses.is_empty() {
        request = request.filter_expression(filter.clauses.join(" AND "));
        for (name, value) in &filter.names {
            request = request.expression_attribute_names(name, value);
        }
        for (name, value) in &filter.values {
            request = request.expression_attribute_values(name, value.clone());
        }
    }
    let output = request
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("query {}: {}", partition.index, DisplayErrorContext(&e)))?;
    let sort_key = |item: &Item| item.get(&sk_name).and_then(|v| v.as_s().ok()).cloned();
    // BETWEEN includes the upper bound; the bound is exclusive (a position already listed).
    let items = output
        .items()
        .iter()
        .filter_map(|item| sort_key(item).map(|sk| (sk, item.clone())))
        .filter(|(sk, _)| sk.as_str() != upper)
        .collect();
    Ok(Answer {
        items,
        stopped_at: output.last_evaluated_key().and_then(sort_key),
    })
}
