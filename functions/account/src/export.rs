//! `GET /users/me/export?cursor=`: every item stored about the caller, in pages of at most
//! [`PAGE_ITEMS`] items (each a few KB at most, so a page stays far below Lambda's 6 MB
//! response limit), each with a signed `next` cursor while more remain. Sections, in order:
//! the account (credentials without the password hash, the failed-login count, rate-limit
//! windows keyed by the address, then the user's partition: profile, sessions, reset and
//! verification pointers without token hashes, earnings records), the ledger of each of the
//! developer's agents (ownership, entries, sale and payout id items), refresh tokens, password
//! resets, email verifications, and the audit entries by or about the user. Items keyed by a
//! token's hash are named by a hash of that hash ([`erasure::export_key`]); no hash attribute
//! is exported. Numbers come as strings, exactly as stored.

use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use capecontrol_shared::audit::{AuditEntry, AuditEvent};
use capecontrol_shared::auth::{self, Caller};
use capecontrol_shared::clock;
use capecontrol_shared::cursor::{self, Purpose as CursorPurpose};
use capecontrol_shared::db;
use capecontrol_shared::email::Email;
use capecontrol_shared::erasure::{self, query::Partition};
use capecontrol_shared::keyring::KeySet;
use capecontrol_shared::query::QueryParams;
use capecontrol_shared::request_meta::RequestMeta;
use capecontrol_shared::state::AppState;
use capecontrol_shared::store::earnings::{self, MarketplaceId};
use capecontrol_shared::store::password_resets::Purpose;
use capecontrol_shared::store::users::{self, UserId};
use capecontrol_shared::store::{self as keys, audit_log, credentials, login_failures};
use capecontrol_shared::store::{refresh_tokens, Item, PK, SK};
use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::{AccountError, Answer};

pub const PAGE_ITEMS: usize = 100;
/// Attributes never exported: keys (the item's `key` names it) and secrets.
const HIDDEN: [&str; 10] = [
    "pk",
    "sk",
    "gsi1pk",
    "gsi1sk",
    "gsi2pk",
    "gsi2sk",
    "gsi3pk",
    "gsi3sk",
    "password_hash",
    "token_hash",
];

/// Where the export resumes: a section, the sort key (or index sort key) last given and, for
/// index sections whose sort keys can repeat, how many items with that key were given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Position {
    section: u8,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    agent: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    after: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    ties: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Position {
    fn start_of(section: u8) -> Self {
        Self {
            section,
            ..Self::default()
        }
    }
}

const ACCOUNT: u8 = 0;
const LEDGER: u8 = 1;
const INDEXES: u8 = 2;
const DONE: u8 = 6;

pub(crate) async fn page(
    state: &AppState,
    request: &Request,
    meta: &RequestMeta,
) -> Result<Answer, AccountError> {
    let Caller { profile, .. } = auth::authenticate(state, request).await?;
    let keyset = state
        .keys
        .keys()
        .await
        .map_err(|_| AccountError::KeysUnavailable)?;
    let scope = format!("export:{}", profile.id);
    let query = QueryParams::parse(request, &["cursor"])?;
    let cursor = query.get("cursor").map(str::to_owned);
    let mut position = match &cursor {
        Some(text) => decode(&keyset, &scope, text)?,
        None => Position::default(),
    };
    if cursor.is_none() {
        let audit = AuditEntry::success(AuditEvent::DataExported)
            .user(&profile.id)
            .into_item(meta, clock::now(), state.settings.audit_retention);
        // Conditioned on the caller, so an entry never outlives the account's erasure.
        auth::put_as_caller(state, &profile, &audit).await?;
    }
    let email = Email::parse(&profile.email).map_err(|_| anyhow::anyhow!("stored email"))?;
    let reader = Reader {
        state,
        user: &profile.id,
        email: &email,
    };
    let mut items = Vec::new();
    while items.len() < PAGE_ITEMS && position.section < DONE {
        position = reader
            .section(position, PAGE_ITEMS - items.len(), &mut items)
            .await?;
    }
    let next = (position.section < DONE).then(|| encode(&keyset, &scope, &position));
    let body = json!({
        "user_id": profile.id,
        "exported_at": clock::rfc3339(clock::now()),
        "items": items,
        "next": next,
    });
    Ok((StatusCode::OK, Some(body)))
}

fn encode(keyset: &KeySet, scope: &str, position: &Position) -> String {
    let text = serde_json::to_string(position).unwrap_or_default();
    cursor::encode(keyset, CursorPurpose::Export, scope, &text)
}

fn decode(keyset: &KeySet, scope: &str, cursor: &str) -> Result<Position, AccountError> {
    let text = cursor::decode(keyset, CursorPurpose::Export, scope, cursor)
        .map_err(|_| AccountError::InvalidCursor)?;
    serde_json::from_str(&text).map_err(|_| AccountError::InvalidCursor)
}

struct Reader<'a> {
    state: &'a AppState,
    user: &'a UserId,
    email: &'a Email,
}

impl Reader<'_> {
    /// Appends at most `room` items of the section at `at`; returns where the export resumes.
    async fn section(
        &self,
        at: Position,
        room: usize,
        out: &mut Vec<Value>,
    ) -> anyhow::Result<Position> {
        match at.section {
            ACCOUNT => self.account(at, room, out).await,
            LEDGER => self.ledger(at, room, out).await,
            _ => self.index(at, room, out).await,
        }
    }

    async fn account(
        &self,
        at: Position,
        room: usize,
        out: &mut Vec<Value>,
    ) -> anyhow::Result<Position> {
        if at.after.is_empty() {
            let by_email = vec![
                keys::key(credentials::pk(self.email), credentials::SK),
                login_failures::key(self.email),
            ];
            let mut found = db::batch_get(&self.state.dynamo, self.state.table(), by_email).await?;
            found.extend(erasure::stored_rate_windows(self.state, self.email).await?);
            out.extend(found.iter().map(exported));
        }
        let partition = Partition::base(users::pk(self.user));
        self.base_partition(partition, at, room, out, Position::start_of(LEDGER))
            .await
    }

    /// A base-table partition from after `at.after`; `then` is where the export goes once the
    /// partition is exhausted.
    async fn base_partition(
        &self,
        partition: Partition,
        at: Position,
        room: usize,
        out: &mut Vec<Value>,
        then: Position,
    ) -> anyhow::Result<Position> {
        let start = (!at.after.is_empty()).then(|| {
            let pk = partition_pk(&at, self.user);
            keys::key(pk, at.after.clone())
        });
        let (items, next) = partition.page(self.state, room as i32, start).await?;
        out.extend(items.iter().map(exported));
        match (next, items.last()) {
            (Some(_), Some(last)) => Ok(Position {
                after: text(last, SK).unwrap_or_default().to_owned(),
                ..at
            }),
            _ => Ok(then),
        }
    }

    /// The agents of the caller's records in turn: each agent's partition (ownership item and
    /// entries) with the sale and payout id items of those entries.
    async fn ledger(
        &self,
        at: Position,
        room: usize,
        out: &mut Vec<Value>,
    ) -> anyhow::Result<Position> {
        let at = if at.agent.is_empty() {
            match self.agent_after(None).await? {
                Some(agent) => Position { agent, ..at },
                None => return Ok(Position::start_of(INDEXES)),
            }
        } else {
            at
        };
        let agent = MarketplaceId::parse(&at.agent).ok_or_else(|| anyhow::anyhow!("agent id"))?;
        let partition = Partition::base(earnings::agent_pk(&agent));
        let before = out.len();
        let after_agent = match self.agent_after(Some(&agent)).await? {
            Some(next) => Position {
                agent: next,
                ..Position::start_of(LEDGER)
            },
            None => Position::start_of(INDEXES),
        };
        let next = self
            .base_partition(partition, at, room, out, after_agent)
            .await?;
        let id_keys: Vec<Item> = out[before..]
            .iter()
            .filter_map(|item| id_key(&item["data"]))
            .collect();
        let ids = db::batch_get(&self.state.dynamo, self.state.table(), id_keys).await?;
        out.extend(
            ids.iter()
                .filter(|item| text(item, "developer_id") == Some(self.user.as_str()))
                .map(exported),
        );
        Ok(next)
    }

    /// The first agent of the caller's records after `after` (by agent id).
    async fn agent_after(&self, after: Option<&MarketplaceId>) -> anyhow::Result<Option<String>> {
        let pk = earnings::record_pk(self.user);
        let start = after.map(|agent| keys::key(&pk, earnings::record_sk(agent)));
        let partition = Partition::base(pk).prefix(earnings::RECORD_SK_PREFIX);
        let (items, _) = partition.page(self.state, 1, start).await?;
        Ok(items
            .first()
            .and_then(|item| text(item, "agent_id"))
            .map(str::to_owned))
    }

    /// One of the user's gsi1 partitions, resumed by index sort key; sort keys may repeat
    /// (a reset's is its creation time), so `ties` items with the last key are skipped.
    async fn index(
        &self,
        at: Position,
        room: usize,
        out: &mut Vec<Value>,
    ) -> anyhow::Result<Position> {
        let partition_pk = match at.section {
            2 => refresh_tokens::user_index_pk(self.user),
            3 => Purpose::PasswordReset.user_index_pk(self.user),
            4 => Purpose::EmailVerification.user_index_pk(self.user),
            _ => audit_log::user_index_pk(self.user),
        };
        let mut partition = Partition::index(partition_pk);
        if !at.after.is_empty() {
            partition = partition.from(&at.after);
        }
        let limit = room + at.ties;
        let (items, next) = partition.page(self.state, limit as i32, None).await?;
        let skipped = items
            .iter()
            .take(at.ties)
            .take_while(|item| text(item, "gsi1sk") == Some(at.after.as_str()))
            .count();
        let given = &items[skipped..items.len().min(skipped + room)];
        out.extend(given.iter().map(exported));
        let consumed = &items[..skipped + given.len()];
        let exhausted = next.is_none() && consumed.len() == items.len();
        if exhausted {
            return Ok(Position::start_of(at.section + 1));
        }
        let Some(last) = consumed.last().and_then(|item| text(item, "gsi1sk")) else {
            return Ok(at);
        };
        let ties = consumed
            .iter()
            .filter(|item| text(item, "gsi1sk") == Some(last))
            .count();
        Ok(Position {
            after: last.to_owned(),
            ties,
            ..at
        })
    }
}

/// The partition a base-table position resumes in.
fn partition_pk(at: &Position, user: &UserId) -> String {
    match MarketplaceId::parse(&at.agent) {
        Some(agent) if at.section == LEDGER => earnings::agent_pk(&agent),
        _ => users::pk(user),
    }
}

/// The sale or payout id item of an exported ledger entry.
fn id_key(data: &Value) -> Option<Item> {
    let reference = MarketplaceId::parse(data["reference"].as_str()?)?;
    match data["entry_type"].as_str()? {
        "sale" => Some(keys::key(earnings::sale_pk(&reference), earnings::SALE_SK)),
        "payout" => Some(keys::key(
            earnings::payout_pk(&reference),
            earnings::PAYOUT_SK,
        )),
        _ => None,
    }
}

fn exported(item: &Item) -> Value {
    let key = erasure::export_key(
        text(item, PK).unwrap_or_default(),
        text(item, SK).unwrap_or_default(),
    );
    let data: Map<String, Value> = item
        .iter()
        .filter(|(name, _)| !HIDDEN.contains(&name.as_str()))
        .map(|(name, value)| (name.clone(), json_of(value)))
        .collect();
    json!({
        "kind": text(item, "entity").unwrap_or("unknown"),
        "key": key,
        "data": data,
    })
}

fn json_of(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(text) | AttributeValue::N(text) => Value::from(text.as_str()),
        AttributeValue::Bool(flag) => Value::Bool(*flag),
        AttributeValue::L(list) => list.iter().map(json_of).collect(),
        AttributeValue::M(map) => map
            .iter()
            .map(|(k, v)| (k.clone(), json_of(v)))
            .collect::<Map<_, _>>()
            .into(),
        AttributeValue::Ss(set) | AttributeValue::Ns(set) => {
            set.iter().map(|s| Value::from(s.as_str())).collect()
        }
        AttributeValue::B(blob) => Value::from(STANDARD.encode(blob.as_ref())),
        _ => Value::Null,
    }
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}
