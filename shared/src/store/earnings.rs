//! `developer_earnings`: one record per (developer, agent), an ownership item per agent (agent
//! ids are unique across the marketplace), an immutable entry per sale and payout, and one
//! idempotency item per sale id and payout id.
//!
//! | item | pk | sk |
//! |---|---|---|
//! | earnings record | `USER#<developer id>` | `EARNINGS#<agent id>` |
//! | agent ownership | `AGENT#<agent id>` | `AGENT` |
//! | ledger entry | `AGENT#<agent id>` | `ENTRY#<created_at>#<entry id>` |
//! | sale id taken | `SALE#<sale id>` | `SALE` |
//! | payout id taken | `PAYOUT#<payout id>` | `PAYOUT` |
//!
//! A developer's agents: `Query pk = USER#<id> AND begins_with(sk, "EARNINGS#")`. An agent's
//! entries newest first: `Query pk = AGENT#<id> AND begins_with(sk, "ENTRY#")`, descending;
//! everything of an agent (ownership and entries): `Query pk = AGENT#<id>`. The record of an
//! agent whose developer is unknown: the ownership item names the developer (a consistent
//! read; a GSI on the record would be eventually consistent and cost a replicated write on
//! every sale).
//!
//! Money attributes are DynamoDB numbers written from and read into exact decimals; these
//! items are converted by hand because serde_dynamo passes numbers through f64.

use anyhow::{anyhow, Context};
use aws_sdk_dynamodb::types::AttributeValue;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use super::users::{self, UserId};
use super::{Item, PK, SK};
use crate::money::{CommissionRate, Currency, Money};

pub const RECORD_SK_PREFIX: &str = "EARNINGS#";
pub const AGENT_SK: &str = "AGENT";
pub const ENTRY_SK_PREFIX: &str = "ENTRY#";
pub const SALE_SK: &str = "SALE";
pub const PAYOUT_SK: &str = "PAYOUT";
pub const RECORD_ENTITY: &str = "earnings_record";
pub const AGENT_ENTITY: &str = "agent";
pub const ENTRY_ENTITY: &str = "earnings_entry";
pub const SALE_ENTITY: &str = "sale";
pub const PAYOUT_ENTITY: &str = "payout";

pub fn record_pk(developer: &UserId) -> String {
    users::pk(developer)
}

pub fn record_sk(agent_id: &MarketplaceId) -> String {
    format!("{RECORD_SK_PREFIX}{agent_id}")
}

pub fn agent_pk(agent_id: &MarketplaceId) -> String {
    format!("AGENT#{agent_id}")
}

pub fn entry_sk(created_at: &str, entry_id: &str) -> String {
    format!("{ENTRY_SK_PREFIX}{created_at}#{entry_id}")
}

pub fn sale_pk(sale_id: &MarketplaceId) -> String {
    format!("SALE#{sale_id}")
}

pub fn payout_pk(payout_id: &MarketplaceId) -> String {
    format!("PAYOUT#{payout_id}")
}

pub fn parse_record_sk(sk: &str) -> Option<MarketplaceId> {
    MarketplaceId::parse(super::after(sk, RECORD_SK_PREFIX)?)
}

pub fn parse_agent_pk(pk: &str) -> Option<MarketplaceId> {
    MarketplaceId::parse(super::after(pk, "AGENT#")?)
}

/// The creation time (as written) and entry id of an entry's sort key.
pub fn parse_entry_sk(sk: &str) -> Option<(&str, &str)> {
    let rest = super::after(sk, ENTRY_SK_PREFIX)?;
    let (at, id) = rest.split_once('#')?;
    (!at.is_empty() && !id.is_empty()).then_some((at, id))
}

pub fn parse_sale_pk(pk: &str) -> Option<MarketplaceId> {
    MarketplaceId::parse(super::after(pk, "SALE#")?)
}

pub fn parse_payout_pk(pk: &str) -> Option<MarketplaceId> {
    MarketplaceId::parse(super::after(pk, "PAYOUT#")?)
}

const MAX_ID_CHARS: usize = 100;
/// Path segments of the earnings routes that cannot also be agent ids.
const RESERVED_IDS: [&str; 4] = ["agents", "sales", "payouts", "earnings"];

/// An id the marketplace assigns (agent, sale, payout): 1 to 100 of `A-Z a-z 0-9 . _ -`, so it
/// is safe in a key (no `#`) and in a URL path segment without escaping.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MarketplaceId(String);

impl MarketplaceId {
    pub fn parse(text: &str) -> Option<Self> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        let fits = !text.is_empty() && text.len() <= MAX_ID_CHARS && text.chars().all(allowed);
        (fits && !RESERVED_IDS.contains(&text)).then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MarketplaceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The schema's developer_earnings row, plus `balance` (revenue_share - total_paid_out, kept
/// in step so that a payout's condition can test it) and `version` (incremented by every
/// write, the condition of the next one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EarningsRecord {
    pub agent_id: MarketplaceId,
    pub agent_name: Option<String>,
    pub developer_id: UserId,
    pub total_sales: Money,
    pub commission_rate: CommissionRate,
    pub revenue_share: Money,
    pub last_payout_amount: Money,
    pub last_payout_at: Option<String>,
    pub total_paid_out: Money,
    pub balance: Money,
    pub currency: Currency,
    pub is_active: bool,
    pub created_at: String,
    pub updated_at: Option<String>,
    pub version: u64,
}

impl EarningsRecord {
    pub fn to_item(&self) -> Item {
        let mut item = Item::from([
            (PK.to_owned(), s(record_pk(&self.developer_id))),
            (SK.to_owned(), s(record_sk(&self.agent_id))),
            ("entity".to_owned(), s(RECORD_ENTITY)),
            ("agent_id".to_owned(), s(self.agent_id.as_str())),
            ("developer_id".to_owned(), s(self.developer_id.as_str())),
            ("total_sales".to_owned(), money(self.total_sales)),
            (
                "commission_rate".to_owned(),
                n(self.commission_rate.as_decimal()),
            ),
            ("revenue_share".to_owned(), money(self.revenue_share)),
            (
                "last_payout_amount".to_owned(),
                money(self.last_payout_amount),
            ),
            ("total_paid_out".to_owned(), money(self.total_paid_out)),
            ("balance".to_owned(), money(self.balance)),
            ("currency".to_owned(), s(self.currency.as_str())),
            ("is_active".to_owned(), AttributeValue::Bool(self.is_active)),
            ("created_at".to_owned(), s(&self.created_at)),
            (
                "version".to_owned(),
                AttributeValue::N(self.version.to_string()),
            ),
        ]);
        optional(&mut item, "agent_name", self.agent_name.as_deref());
        optional(&mut item, "last_payout_at", self.last_payout_at.as_deref());
        optional(&mut item, "updated_at", self.updated_at.as_deref());
        item
    }

    pub fn from_item(item: &Item) -> anyhow::Result<Self> {
        let read = Reader(item);
        Ok(Self {
            agent_id: read.id("agent_id")?,
            agent_name: read.optional_string("agent_name")?,
            developer_id: read.user("developer_id")?,
            total_sales: read.money("total_sales")?,
            commission_rate: read.rate("commission_rate")?,
            revenue_share: read.money("revenue_share")?,
            last_payout_amount: read.money("last_payout_amount")?,
            last_payout_at: read.optional_string("last_payout_at")?,
            total_paid_out: read.money("total_paid_out")?,
            balance: read.money("balance")?,
            currency: read.currency("currency")?,
            is_active: read.boolean("is_active")?,
            created_at: read.string("created_at")?,
            updated_at: read.optional_string("updated_at")?,
            version: read.count("version")?,
        })
    }
}

/// Who owns an agent id: written once, with the record, and never changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    pub agent_id: MarketplaceId,
    pub developer_id: UserId,
    pub created_at: String,
    /// The audit entry of the opening, which names the developer in its metadata when an
    /// admin opened the record: the account's erasure finds it here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_id: Option<String>,
}

impl AgentItem {
    pub fn new(agent_id: &MarketplaceId, developer: &UserId, created_at: &str) -> Self {
        Self {
            pk: agent_pk(agent_id),
            sk: AGENT_SK.to_owned(),
            entity: AGENT_ENTITY.to_owned(),
            agent_id: agent_id.clone(),
            developer_id: developer.clone(),
            created_at: created_at.to_owned(),
            audit_id: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Sale,
    Payout,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sale => "sale",
            Self::Payout => "payout",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "sale" => Some(Self::Sale),
            "payout" => Some(Self::Payout),
            _ => None,
        }
    }
}

/// A sale's split, as it was computed at the rate in force then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaleSplit {
    pub commission_rate: CommissionRate,
    pub commission: Money,
    pub developer_share: Money,
}

/// One immutable line of an agent's ledger: every total of the record can be recomputed from
/// these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub entry_id: String,
    pub kind: EntryKind,
    pub agent_id: MarketplaceId,
    pub developer_id: UserId,
    /// The sale id or payout id.
    pub reference: MarketplaceId,
    pub amount: Money,
    /// Present on sales only.
    pub split: Option<SaleSplit>,
    pub currency: Currency,
    pub balance_after: Money,
    /// The user whose request wrote it.
    pub created_by: UserId,
    pub created_at: String,
}

impl LedgerEntry {
    pub fn sk(&self) -> String {
        entry_sk(&self.created_at, &self.entry_id)
    }

    pub fn to_item(&self) -> Item {
        let mut item = Item::from([
            (PK.to_owned(), s(agent_pk(&self.agent_id))),
            (SK.to_owned(), s(self.sk())),
            ("entity".to_owned(), s(ENTRY_ENTITY)),
            ("entry_id".to_owned(), s(&self.entry_id)),
            ("entry_type".to_owned(), s(self.kind.as_str())),
            ("agent_id".to_owned(), s(self.agent_id.as_str())),
            ("developer_id".to_owned(), s(self.developer_id.as_str())),
            ("reference".to_owned(), s(self.reference.as_str())),
            ("amount".to_owned(), money(self.amount)),
            ("currency".to_owned(), s(self.currency.as_str())),
            ("balance_after".to_owned(), money(self.balance_after)),
            ("created_by".to_owned(), s(self.created_by.as_str())),
            ("created_at".to_owned(), s(&self.created_at)),
        ]);
        if let Some(split) = &self.split {
            item.insert(
                "commission_rate".into(),
                n(split.commission_rate.as_decimal()),
            );
            item.insert("commission".into(), money(split.commission));
            item.insert("developer_share".into(), money(split.developer_share));
        }
        item
    }

    pub fn from_item(item: &Item) -> anyhow::Result<Self> {
        let read = Reader(item);
        let kind = read.string("entry_type")?;
        let kind = EntryKind::parse(&kind).with_context(|| format!("entry type {kind:?}"))?;
        let split = match kind {
            EntryKind::Sale => Some(SaleSplit {
                commission_rate: read.rate("commission_rate")?,
                commission: read.money("commission")?,
                developer_share: read.money("developer_share")?,
            }),
            EntryKind::Payout => None,
        };
        Ok(Self {
            entry_id: read.string("entry_id")?,
            kind,
            agent_id: read.id("agent_id")?,
            developer_id: read.user("developer_id")?,
            reference: read.id("reference")?,
            amount: read.money("amount")?,
            split,
            currency: read.currency("currency")?,
            balance_after: read.money("balance_after")?,
            created_by: read.user("created_by")?,
            created_at: read.string("created_at")?,
        })
    }
}

/// A sale id or payout id once used: what the request was (its fingerprint) and what it was
/// answered, verbatim, so that a retry gets the same answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    /// SHA-256 (hex) of the request's canonical form.
    pub fingerprint: String,
    pub status: u16,
    /// The response body as JSON text.
    pub response: String,
    pub agent_id: MarketplaceId,
    pub developer_id: UserId,
    pub entry_sk: String,
    pub created_at: String,
    /// The posting's audit entry (written by the admin, naming the developer in its
    /// metadata): the account's erasure finds it here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_id: Option<String>,
}

fn s(text: impl Into<String>) -> AttributeValue {
    AttributeValue::S(text.into())
}

fn n(value: Decimal) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn money(value: Money) -> AttributeValue {
    n(value.as_decimal())
}

fn optional(item: &mut Item, name: &str, value: Option<&str>) {
    if let Some(value) = value {
        item.insert(name.to_owned(), s(value));
    }
}

/// Typed reads of one item's attributes; every error names the attribute.
struct Reader<'a>(&'a Item);

impl Reader<'_> {
    fn attribute(&self, name: &str) -> anyhow::Result<&AttributeValue> {
        self.0
            .get(name)
            .with_context(|| format!("attribute {name} missing"))
    }

    fn string(&self, name: &str) -> anyhow::Result<String> {
        let value = self.attribute(name)?.as_s();
        value
            .cloned()
            .map_err(|_| anyhow!("attribute {name} is not a string"))
    }

    fn optional_string(&self, name: &str) -> anyhow::Result<Option<String>> {
        match self.0.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(_) => self.string(name).map(Some),
        }
    }

    fn decimal(&self, name: &str) -> anyhow::Result<Decimal> {
        let text = self
            .attribute(name)?
            .as_n()
            .map_err(|_| anyhow!("attribute {name} is not a number"))?;
        Decimal::from_str(text)
            .or_else(|_| Decimal::from_scientific(text))
            .with_context(|| format!("attribute {name} is not a decimal"))
    }

    fn money(&self, name: &str) -> anyhow::Result<Money> {
        Money::new(self.decimal(name)?).with_context(|| format!("attribute {name} out of range"))
    }

    fn rate(&self, name: &str) -> anyhow::Result<CommissionRate> {
        CommissionRate::new(self.decimal(name)?)
            .with_context(|| format!("attribute {name} out of range"))
    }

    fn count(&self, name: &str) -> anyhow::Result<u64> {
        let text = self
            .attribute(name)?
            .as_n()
            .map_err(|_| anyhow!("attribute {name} is not a number"))?;
        text.parse()
            .with_context(|| format!("attribute {name} is not a count"))
    }

    fn boolean(&self, name: &str) -> anyhow::Result<bool> {
        let value = self.attribute(name)?.as_bool();
        value
            .copied()
            .map_err(|_| anyhow!("attribute {name} is not a boolean"))
    }

    fn id(&self, name: &str) -> anyhow::Result<MarketplaceId> {
        let text = self.string(name)?;
        MarketplaceId::parse(&text).with_context(|| format!("attribute {name} is not an id"))
    }

    fn user(&self, name: &str) -> anyhow::Result<UserId> {
        let text = self.string(name)?;
        UserId::parse(&text).with_context(|| format!("attribute {name} is not a user id"))
    }

    fn currency(&self, name: &str) -> anyhow::Result<Currency> {
        let text = self.string(name)?;
        Currency::parse(&text).with_context(|| format!("attribute {name} is not a currency"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &str) -> MarketplaceId {
        MarketplaceId::parse(text).expect("id")
    }

    fn developer() -> UserId {
        UserId::parse("0b7e4cf2-5d7a-4f57-9a51-2d4f0c1e9b3a").expect("uuid")
    }

    fn amount(text: &str) -> Money {
        Money::parse_positive(text).expect("amount")
    }

    #[test]
    fn keys_are_pinned() {
        let agent = id("agent-7");
        assert_eq!(
            record_pk(&developer()),
            "USER#0b7e4cf2-5d7a-4f57-9a51-2d4f0c1e9b3a"
        );
        assert_eq!(record_sk(&agent), "EARNINGS#agent-7");
        assert_eq!(agent_pk(&agent), "AGENT#agent-7");
        assert_eq!(AGENT_SK, "AGENT");
        assert_eq!(
            entry_sk("2026-12-04T00:00:00.000Z", "e1"),
            "ENTRY#2026-12-04T00:00:00.000Z#e1"
        );
        assert_eq!(sale_pk(&id("s-1")), "SALE#s-1");
        assert_eq!(payout_pk(&id("p-1")), "PAYOUT#p-1");
        assert_eq!((SALE_SK, PAYOUT_SK), ("SALE", "PAYOUT"));
    }

    #[test]
    fn ids_are_key_and_path_safe_and_not_route_names() {
        assert!(MarketplaceId::parse("Agent_1.v2-beta").is_some());
        assert!(MarketplaceId::parse(&"a".repeat(100)).is_some());
        for bad in [
            "", "a#b", "a/b", "a b", "ä", "agents", "sales", "payouts", "earnings",
        ] {
            assert!(MarketplaceId::parse(bad).is_none(), "{bad:?}");
        }
        assert!(MarketplaceId::parse(&"a".repeat(101)).is_none());
    }

    fn record() -> EarningsRecord {
        EarningsRecord {
            agent_id: id("agent-7"),
            agent_name: Some("Summariser".into()),
            developer_id: developer(),
            total_sales: amount("6.45"),
            commission_rate: CommissionRate::standard(),
            revenue_share: amount("4.51"),
            last_payout_amount: amount("1.00"),
            last_payout_at: Some("2026-12-04T00:00:00.000Z".into()),
            total_paid_out: amount("1.00"),
            balance: amount("3.51"),
            currency: Currency::standard(),
            is_active: true,
            created_at: "2026-12-01T00:00:00.000Z".into(),
            updated_at: None,
            version: 3,
        }
    }

    #[test]
    fn a_record_is_stored_with_numbers_and_reads_back_equal() {
        let item = record().to_item();
        assert_eq!(item["total_sales"], AttributeValue::N("6.45".into()));
        assert_eq!(item["commission_rate"], AttributeValue::N("0.3000".into()));
        assert_eq!(item["balance"], AttributeValue::N("3.51".into()));
        assert_eq!(item["pk"], s("USER#0b7e4cf2-5d7a-4f57-9a51-2d4f0c1e9b3a"));
        assert_eq!(item["sk"], s("EARNINGS#agent-7"));
        assert!(!item.contains_key("updated_at"));
        assert_eq!(EarningsRecord::from_item(&item).expect("record"), record());
    }

    #[test]
    fn numbers_as_dynamodb_returns_them_are_read_at_full_scale() {
        let mut item = record().to_item();
        item.insert("total_sales".into(), AttributeValue::N("6.4".into()));
        item.insert("commission_rate".into(), AttributeValue::N("0.3".into()));
        item.insert("balance".into(), AttributeValue::N("1E+2".into()));
        let read = EarningsRecord::from_item(&item).expect("record");
        assert_eq!(read.total_sales.to_string(), "6.40");
        assert_eq!(read.commission_rate.to_string(), "0.3000");
        assert_eq!(read.balance.to_string(), "100.00");
    }

    #[test]
    fn a_damaged_item_is_an_error_naming_the_attribute() {
        let mut item = record().to_item();
        item.insert("balance".into(), s("3.51"));
        let error = EarningsRecord::from_item(&item).expect_err("not a number");
        assert!(error.to_string().contains("balance"), "{error}");
    }

    #[test]
    fn sale_entries_keep_their_split_and_payouts_have_none() {
        let sale = LedgerEntry {
            entry_id: "e1".into(),
            kind: EntryKind::Sale,
            agent_id: id("agent-7"),
            developer_id: developer(),
            reference: id("sale-1"),
            amount: amount("6.45"),
            split: Some(SaleSplit {
                commission_rate: CommissionRate::standard(),
                commission: amount("1.94"),
                developer_share: amount("4.51"),
            }),
            currency: Currency::standard(),
            balance_after: amount("4.51"),
            created_by: developer(),
            created_at: "2026-12-04T00:00:00.000Z".into(),
        };
        let item = sale.to_item();
        assert_eq!(item["pk"], s("AGENT#agent-7"));
        assert_eq!(item["sk"], s("ENTRY#2026-12-04T00:00:00.000Z#e1"));
        assert_eq!(item["commission"], AttributeValue::N("1.94".into()));
        assert_eq!(LedgerEntry::from_item(&item).expect("entry"), sale);

        let payout = LedgerEntry {
            kind: EntryKind::Payout,
            split: None,
            ..sale
        };
        let item = payout.to_item();
        assert!(!item.contains_key("commission"));
        assert_eq!(LedgerEntry::from_item(&item).expect("entry"), payout);
    }
}
