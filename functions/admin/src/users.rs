//! `GET /admin/users?role=&active=&created_from=&created_to=&limit=&cursor=`: accounts newest
//! first, from gsi1 (`USERS#<role>#<state>`): one Query per (role, state) the filters leave,
//! at most six, merged by creation time. `created_from` is inclusive, `created_to` exclusive.

use capecontrol_shared::audit::AuditEvent;
use capecontrol_shared::clock;
use capecontrol_shared::db;
use capecontrol_shared::query::QueryParams;
use capecontrol_shared::request_meta::RequestMeta;
use capecontrol_shared::state::AppState;
use capecontrol_shared::store::users::{self, PublicUser, Role, UserItem};
use capecontrol_shared::store::GSI1;
use lambda_http::Request;
use serde_json::{json, Value};

use crate::page::{self, Filter, Listing, Partition, Start};
use crate::AdminError;

const PARAMS: [&str; 6] = [
    "role",
    "active",
    "created_from",
    "created_to",
    "limit",
    "cursor",
];

/// Below and above every `<created_at>#<id>` sort key.
pub(crate) const LOWEST: &str = "0";
pub(crate) const HIGHEST: &str = "9";

#[derive(Debug)]
struct Filters {
    roles: Vec<Role>,
    states: Vec<bool>,
    lower: String,
    upper: String,
    limit: usize,
    scope: String,
}

pub(crate) async fn list(
    state: &AppState,
    request: &Request,
    meta: &RequestMeta,
) -> Result<Value, AdminError> {
    let start = Start::new(state, request, &PARAMS).await?;
    let filters = parse(&start.params)?;
    let upper = start.resume(&filters.scope)?;
    let upper = upper.unwrap_or_else(|| filters.upper.clone());

    let listing = Listing {
        buckets: vec![partitions(&filters)],
        lower: filters.lower.clone(),
        upper,
        limit: filters.limit,
        filter: Filter::default(),
    };
    let page = page::fetch(state, &listing).await?;
    let items = page.items.into_iter().map(db::from_item::<UserItem>);
    let profiles = items.collect::<anyhow::Result<Vec<_>>>()?;
    let event = AuditEvent::AdminUsersListed;
    let listed = (filters.scope.as_str(), profiles.len());
    start.record(state, meta, event, listed).await?;
    let next = page.next.map(|at| start.cursor(&filters.scope, &at));
    let users: Vec<PublicUser<'_>> = profiles.iter().map(|u| (&u.profile).into()).collect();
    Ok(json!({ "users": users, "next": next }))
}

fn partitions(filters: &Filters) -> Vec<Partition> {
    let mut partitions = Vec::new();
    for role in &filters.roles {
        for active in &filters.states {
            partitions.push(Partition {
                index: GSI1,
                pk: users::list_index_pk(*role, *active),
            });
        }
    }
    partitions
}

fn parse(params: &QueryParams) -> Result<Filters, AdminError> {
    let roles = match params.get("role") {
        None => Role::ALL.to_vec(),
        Some(text) => vec![Role::parse(text).ok_or_else(|| {
            AdminError::field("role", "invalid_choice", "customer, developer or admin.")
        })?],
    };
    let states = match params.get("active") {
        None => vec![true, false],
        Some("true") => vec![true],
        Some("false") => vec![false],
        Some(_) => {
            return Err(AdminError::field(
                "active",
                "invalid_choice",
                "true or false.",
            ));
        }
    };
    let lower = time_bound(params, "created_from")?.unwrap_or_else(|| LOWEST.to_owned());
    let upper = time_bound(params, "created_to")?.unwrap_or_else(|| HIGHEST.to_owned());
    if lower >= upper {
        return Err(empty_range());
    }
    let scope = format!(
        "users|{}|{}|{lower}|{upper}",
        params.get("role").unwrap_or("*"),
        params.get("active").unwrap_or("*"),
    );
    Ok(Filters {
        roles,
        states,
        lower,
        upper,
        limit: page_size(params)?,
        scope,
    })
}

pub(crate) fn empty_range() -> AdminError {
    AdminError::field("", "invalid_range", "The start must be before the end.")
}

/// An RFC 3339 instant given as `name`, in the stored form (UTC, milliseconds).
pub(crate) fn time_bound(params: &QueryParams, name: &str) -> Result<Option<String>, AdminError> {
    params
        .get(name)
        .map(|text| {
            clock::parse_rfc3339(text)
                .map(clock::rfc3339)
                .ok_or_else(|| AdminError::field(name, "invalid_time", "An RFC 3339 instant."))
        })
        .transpose()
}

/// `limit`: 1 to 100, 50 when absent.
pub(crate) fn page_size(params: &QueryParams) -> Result<usize, AdminError> {
    let Some(text) = params.get("limit") else {
        return Ok(50);
    };
    text.parse::<usize>()
        .ok()
        .filter(|n| (1..=100).contains(n))
        .ok_or_else(|| AdminError::field("limit", "invalid_limit", "The limit must be 1 to 100."))
}
