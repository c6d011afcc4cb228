//! `POST /earnings/sales {developer_id, agent_id, sale_id, amount, currency}` and
//! `POST /earnings/payouts {developer_id, agent_id, payout_id, amount}`, by admins.
//!
//! A posting is one transaction:
//! 0. the sale or payout id's item, new (the id is unused), holding the request's fingerprint
//!    and the answer, so that a retry gets the same answer and a different body a 409;
//! 1. the record with its new totals and balance, on condition that its version is the one
//!    read (and, for a payout, that the stored balance covers the amount);
//! 2. the ledger entry;
//! 3. the audit entry.
//!
//! When the record changed between the read and the write (another posting), the posting is
//! recomputed from the new state and tried again.

use anyhow::{anyhow, Context};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use capecontrol_shared::audit::{AuditEntry, AuditEvent};
use capecontrol_shared::clock;
use capecontrol_shared::db::{self, TransactError};
use capecontrol_shared::fields::Fields;
use capecontrol_shared::http::{self, ApiError};
use capecontrol_shared::money::{self, Currency, Money};
use capecontrol_shared::request_meta::RequestMeta;
use capecontrol_shared::state::AppState;
use capecontrol_shared::store::earnings::{
    self, EarningsRecord, EntryKind, IdempotencyItem, LedgerEntry, MarketplaceId, SaleSplit,
};
use capecontrol_shared::store::users::UserId;
use capecontrol_shared::store::{self as keys};
use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde_json::json;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::access::{self, Caller};
use crate::records::{self, Attempt};
use crate::{form, view, Answer, EarningsError};

/// A sale or payout as requested.
#[derive(Debug)]
pub(crate) struct Posting {
    kind: EntryKind,
    developer: UserId,
    agent: MarketplaceId,
    /// The sale id or payout id.
    reference: MarketplaceId,
    amount: Money,
    /// Sales name their currency, which must be the record's; payouts are in the record's.
    currency: Option<Currency>,
}

impl Posting {
    /// SHA-256 of the request's canonical form: the same request in any field order or
    /// number format ("6.5" or "6.50") has the same fingerprint.
    fn fingerprint(&self) -> String {
        let amount = self.amount.to_string();
        let currency = self.currency.as_ref().map_or("", Currency::as_str);
        let parts = [
            self.kind.as_str(),
            self.developer.as_str(),
            self.agent.as_str(),
            self.reference.as_str(),
            &amount,
            currency,
        ];
        hex::encode(Sha256::digest(parts.join("\u{1f}")))
    }

    /// The key and entity of the sale or payout id's item.
    fn id_key(&self) -> (String, &'static str, &'static str) {
        let id = &self.reference;
        match self.kind {
            EntryKind::Sale => (
                earnings::sale_pk(id),
                earnings::SALE_SK,
                earnings::SALE_ENTITY,
            ),
            EntryKind::Payout => (
                earnings::payout_pk(id),
                earnings::PAYOUT_SK,
                earnings::PAYOUT_ENTITY,
            ),
        }
    }
}

/// `POST /earnings/sales` (`kind` sale) or `POST /earnings/payouts` (`kind` payout).
pub(crate) async fn post_entry(
    state: &AppState,
    request: &Request,
    meta: &RequestMeta,
    kind: EntryKind,
) -> Result<Answer, EarningsError> {
    let caller = access::caller(state, request).await?;
    caller.require_admin()?;
    let posting = parse(request, kind)?;
    post(state, &caller, meta, &posting).await
}

pub(crate) fn parse(request: &Request, kind: EntryKind) -> Result<Posting, ApiError> {
    let mut fields = Fields::new(http::json_object(request)?);
    let developer = form::user(&mut fields, "developer_id");
    let agent = form::id(&mut fields, "agent_id");
    let reference = match kind {
        EntryKind::Sale => form::id(&mut fields, "sale_id"),
        EntryKind::Payout => form::id(&mut fields, "payout_id"),
    };
    let amount = form::amount(&mut fields, "amount");
    let currency = match kind {
        EntryKind::Sale => fields
            .required_string("currency")
            .and_then(|text| form::currency(&mut fields, "currency", &text)),
        EntryKind::Payout => None,
    };
    fields.finish()?;
    match (developer, agent, reference, amount) {
        (Some(developer), Some(agent), Some(reference), Some(amount)) => Ok(Posting {
            kind,
            developer,
            agent,
            reference,
            amount,
            currency,
        }),
        // A field that failed to parse recorded an error, so finish() returned it above.
        _ => Err(ApiError::internal()),
    }
}

async fn post(
    state: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    posting: &Posting,
) -> Result<Answer, EarningsError> {
    let fingerprint = posting.fingerprint();
    let answer = records::retrying(|| attempt(state, caller, meta, posting, &fingerprint)).await?;
    tracing::info!(
        user_id = %caller.id,
        developer_id = %posting.developer,
        agent_id = %posting.agent,
        reference = %posting.reference,
        event = posting.kind.as_str(),
        replayed = answer.replayed,
        "posting answered"
    );
    Ok(answer)
}

async fn attempt(
    state: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    posting: &Posting,
    fingerprint: &str,
) -> Result<Attempt<Answer>, EarningsError> {
    let (used, record) = futures::try_join!(
        used_id(state, posting),
        records::load_record(state, &posting.developer, &posting.agent)
    )?;
    if let Some(used) = used {
        return replay(&used, fingerprint).map(Attempt::Done);
    }
    let record = record.ok_or(EarningsError::RecordNotFound)?;

    let now = clock::now();
    let (next, entry) = apply(posting, &record, &caller.id, now)?;
    let body = json!({ "record": view::record(&next), "entry": view::entry(&entry) }).to_string();
    let written = Written {
        fingerprint,
        next: &next,
        entry: &entry,
        body: &body,
    };
    let items = transaction(state, caller, meta, posting, &written, now)?;
    let outcome = db::transact(&state.dynamo, items).await;
    settle(state, posting, fingerprint, outcome, body).await
}

/// The answer to a posting's transaction: created; the first answer when its id was taken
/// meanwhile; or another try when the record changed.
async fn settle(
    state: &AppState,
    posting: &Posting,
    fingerprint: &str,
    outcome: Result<(), TransactError>,
    body: String,
) -> Result<Attempt<Answer>, EarningsError> {
    match outcome {
        Ok(()) => Ok(Attempt::Done(Answer {
            status: StatusCode::CREATED,
            body,
            replayed: false,
        })),
        Err(e) if e.condition_failed_at(0) => {
            let used = used_id(state, posting).await?;
            let used = used.context("the id's item vanished after its condition failed")?;
            replay(&used, fingerprint).map(Attempt::Done)
        }
        Err(e) if e.condition_failed_at(1) => Ok(Attempt::Changed),
        Err(TransactError::Cancelled(reasons)) => {
            Err(anyhow!("posting cancelled unexpectedly: {reasons:?}").into())
        }
        Err(TransactError::Unexpected(e)) => Err(e.context("write the posting").into()),
    }
}

async fn used_id(
    state: &AppState,
    posting: &Posting,
) -> Result<Option<IdempotencyItem>, EarningsError> {
    let (pk, sk, _) = posting.id_key();
    Ok(db::get(&state.dynamo, state.table(), keys::key(pk, sk))
        .await
        .context("read the sale or payout id")?)
}

/// The first answer again when the request is the same; a 409 when the id was used for a
/// different one.
fn replay(used: &IdempotencyItem, fingerprint: &str) -> Result<Answer, EarningsError> {
    if used.fingerprint != fingerprint {
        return Err(EarningsError::IdempotencyConflict);
    }
    let status = StatusCode::from_u16(used.status).context("stored status")?;
    Ok(Answer {
        status,
        body: used.response.clone(),
        replayed: true,
    })
}

/// The record after the posting and its entry, or why the posting cannot be made.
fn apply(
    posting: &Posting,
    record: &EarningsRecord,
    actor: &UserId,
    now: OffsetDateTime,
) -> Result<(EarningsRecord, LedgerEntry), EarningsError> {
    let at = clock::rfc3339(now);
    let mut next = record.clone();
    let split = match posting.kind {
        EntryKind::Sale => Some(credit(&mut next, posting)?),
        EntryKind::Payout => {
            debit(&mut next, posting, &at)?;
            None
        }
    };
    next.version += 1;
    next.updated_at = Some(at.clone());
    let entry = LedgerEntry {
        entry_id: uuid::Uuid::new_v4().to_string(),
        kind: posting.kind,
        agent_id: record.agent_id.clone(),
        developer_id: record.developer_id.clone(),
        reference: posting.reference.clone(),
        amount: posting.amount,
        split,
        currency: record.currency.clone(),
        balance_after: next.balance,
        created_by: actor.clone(),
        created_at: at,
    };
    Ok((next, entry))
}

fn credit(next: &mut EarningsRecord, posting: &Posting) -> Result<SaleSplit, EarningsError> {
    if !next.is_active {
        return Err(EarningsError::RecordInactive);
    }
    if posting.currency.as_ref() != Some(&next.currency) {
        return Err(EarningsError::field(
            "currency",
            "currency_mismatch",
            "The sale's currency is not the record's.",
        ));
    }
    let split = money::split(posting.amount, next.commission_rate);
    let out_of_range = || {
        EarningsError::field(
            "amount",
            "total_out_of_range",
            "This sale would take the record's totals past 99999999.99.",
        )
    };
    next.total_sales = next
        .total_sales
        .checked_add(posting.amount)
        .ok_or_else(out_of_range)?;
    next.revenue_share = (next.revenue_share)
        .checked_add(split.developer_share)
        .ok_or_else(out_of_range)?;
    next.balance = (next.balance)
        .checked_add(split.developer_share)
        .ok_or_else(out_of_range)?;
    Ok(SaleSplit {
        commission_rate: next.commission_rate,
        commission: split.commission,
        developer_share: split.developer_share,
    })
}

fn debit(next: &mut EarningsRecord, posting: &Posting, at: &str) -> Result<(), EarningsError> {
    next.balance = (next.balance)
        .checked_sub(posting.amount)
        .ok_or(EarningsError::InsufficientBalance)?;
    // total_paid_out + balance = revenue_share <= the maximum, so this cannot overflow.
    next.total_paid_out = (next.total_paid_out)
        .checked_add(posting.amount)
        .context("total paid out past the maximum")?;
    next.last_payout_amount = posting.amount;
    next.last_payout_at = Some(at.to_owned());
    Ok(())
}

/// What one try writes besides the audit entry.
struct Written<'a> {
    fingerprint: &'a str,
    next: &'a EarningsRecord,
    entry: &'a LedgerEntry,
    body: &'a str,
}

fn transaction(
    state: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    posting: &Posting,
    written: &Written<'_>,
    now: OffsetDateTime,
) -> anyhow::Result<Vec<TransactWriteItem>> {
    let table = state.table();
    let audit = audit_entry(caller, posting, written.entry).into_item(
        meta,
        now,
        state.settings.audit_retention,
    );
    let (pk, sk, entity) = posting.id_key();
    let used = IdempotencyItem {
        pk,
        sk: sk.to_owned(),
        entity: entity.to_owned(),
        fingerprint: written.fingerprint.to_owned(),
        status: StatusCode::CREATED.as_u16(),
        response: written.body.to_owned(),
        agent_id: posting.agent.clone(),
        developer_id: posting.developer.clone(),
        entry_sk: written.entry.sk(),
        created_at: written.entry.created_at.clone(),
        audit_id: Some(audit.id.clone()),
    };
    let covers = match posting.kind {
        EntryKind::Sale => None,
        EntryKind::Payout => Some((
            "balance >= :amount",
            ":amount",
            AttributeValue::N(posting.amount.to_string()),
        )),
    };
    Ok(vec![
        db::put_new(table, &used)?,
        records::put_record(table, written.next, covers)?,
        db::put_new_item(table, written.entry.to_item())?,
        db::put_new(table, &audit)?,
    ])
}

fn audit_entry(caller: &Caller, posting: &Posting, entry: &LedgerEntry) -> AuditEntry {
    let (event, id_field) = match posting.kind {
        EntryKind::Sale => (AuditEvent::EarningsSaleRecorded, "sale_id"),
        EntryKind::Payout => (AuditEvent::EarningsPayoutRecorded, "payout_id"),
    };
    let mut audit = AuditEntry::success(event)
        .user(&caller.id)
        .detail("developer_id", posting.developer.as_str())
        .detail("agent_id", posting.agent.as_str())
        .detail(id_field, posting.reference.as_str())
        .detail("amount", entry.amount.to_string())
        .detail("currency", entry.currency.as_str())
        .detail("balance_after", entry.balance_after.to_string());
    if let Some(split) = entry.split {
        audit = audit
            .detail("commission", split.commission.to_string())
            .detail("developer_share", split.developer_share.to_string());
    }
    audit
}

#[cfg(test)]
mod tests {
    use super::*;

    fn posting(amount: &str) -> Posting {
        Posting {
            kind: EntryKind::Sale,
            developer: UserId::generate(),
            agent: MarketplaceId::parse("agent-1").expect("id"),
            reference: MarketplaceId::parse("sale-1").expect("id"),
            amount: Money::parse_positive(amount).expect("amount"),
            currency: Some(Currency::standard()),
        }
    }

    #[test]
    fn the_fingerprint_ignores_number_format_and_sees_every_field() {
        let a = posting("6.5");
        let same = Posting {
            developer: a.developer.clone(),
            ..posting("6.50")
        };
        assert_eq!(a.fingerprint(), same.fingerprint());
        let other_amount = Posting {
            developer: a.developer.clone(),
            ..posting("6.51")
        };
        assert_ne!(a.fingerprint(), other_amount.fingerprint());
        let other_developer = posting("6.5");
        assert_ne!(a.fingerprint(), other_developer.fingerprint());
        let as_payout = Posting {
            kind: EntryKind::Payout,
            developer: a.developer.clone(),
            ..posting("6.5")
        };
        assert_ne!(a.fingerprint(), as_payout.fingerprint());
    }
}
