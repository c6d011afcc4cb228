//! The single-table mapping: one module per entity of the relational schema owns its key
//! strings and its item shape. The README's key table mirrors these modules; the unit tests pin
//! every key so that a refactor cannot orphan stored data.
//!
//! Attribute names shared by every item: `pk`/`sk` (table key), `gsi1pk`/`gsi1sk` ..
//! `gsi3pk`/`gsi3sk` (the three sparse global secondary indexes), `entity` (the item kind) and
//! `ttl` (epoch seconds; DynamoDB deletes the item up to two days after it, so readers also
//! check expiry themselves).

pub mod admins;
pub mod audit_log;
pub mod credentials;
pub mod deletions;
pub mod earnings;
pub mod login_failures;
pub mod password_resets;
#[cfg(test)]
mod properties;
pub mod rate_limits;
pub mod refresh_tokens;
pub mod sessions;
pub mod users;

use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

pub const PK: &str = "pk";
pub const SK: &str = "sk";
pub const GSI1: &str = "gsi1";
pub const GSI2: &str = "gsi2";
pub const GSI3: &str = "gsi3";
pub const TTL: &str = "ttl";

pub type Item = HashMap<String, AttributeValue>;

/// The non-empty rest of `key` after `prefix`: the inverse of `format!("{prefix}{rest}")`.
pub fn after<'a>(key: &'a str, prefix: &str) -> Option<&'a str> {
    key.strip_prefix(prefix).filter(|rest| !rest.is_empty())
}

/// `<created_at>#<id>` (the time-ordered sort keys of the indexes) split into its two parts;
/// the time has no `#`, so the first one separates them.
pub fn split_time_sk(sk: &str) -> Option<(time::OffsetDateTime, &str)> {
    let (at, id) = sk.split_once('#')?;
    let parsed = crate::clock::parse_rfc3339(at)?;
    (crate::clock::rfc3339(parsed) == at && !id.is_empty()).then_some((parsed, id))
}

/// The primary key of an item, as GetItem and UpdateItem take it.
pub fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([
        (PK.to_owned(), AttributeValue::S(pk.into())),
        (SK.to_owned(), AttributeValue::S(sk.into())),
    ])
}
