//! `PATCH /earnings/{agent_id} {commission_rate, is_active}` (admins): a new rate applies to
//! the sales credited after it (each sale is split at the rate of the record version it
//! writes over); an inactive record takes no sales but can still be paid out.

use anyhow::anyhow;
use capecontrol_shared::audit::{AuditEntry, AuditEvent};
use capecontrol_shared::clock;
use capecontrol_shared::db::{self, TransactError};
use capecontrol_shared::fields::{FieldError, Fields};
use capecontrol_shared::http::{self, ApiError};
use capecontrol_shared::money::CommissionRate;
use capecontrol_shared::request_meta::RequestMeta;
use capecontrol_shared::state::AppState;
use capecontrol_shared::store::earnings::{EarningsRecord, MarketplaceId};
use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde_json::json;

use crate::access::{self, Caller};
use crate::records::{self, Attempt};
use crate::{view, Answer, EarningsError};

#[derive(Debug, Clone, Copy)]
pub(crate) struct Change {
    pub commission_rate: Option<CommissionRate>,
    pub is_active: Option<bool>,
}

pub(crate) async fn change(
    state: &AppState,
    request: &Request,
    meta: &RequestMeta,
    agent: &str,
) -> Result<Answer, EarningsError> {
    let caller = access::caller(state, request).await?;
    caller.require_admin()?;
    let agent = MarketplaceId::parse(agent).ok_or(EarningsError::RecordNotFound)?;
    let change = parse(request)?;

    let record = records::retrying(|| attempt(state, &caller, meta, &agent, change)).await?;
    tracing::info!(
        user_id = %caller.id,
        agent_id = %agent,
        event = "earnings_record_changed",
        "earnings record changed"
    );
    let body = json!({ "record": view::record(&record) });
    Ok(Answer::json(StatusCode::OK, &body))
}

pub(crate) fn parse(request: &Request) -> Result<Change, ApiError> {
    let mut fields = Fields::new(http::json_object(request)?);
    let rate = fields.optional_string("commission_rate");
    let is_active = fields.optional_bool("is_active");
    let commission_rate = rate.and_then(|text| match CommissionRate::parse(&text) {
        Ok(rate) => Some(rate),
        Err(reason) => {
            let message = "A decimal string from \"0\" to \"1\" with at most 4 places.";
            let code = match reason.code() {
                "invalid_amount" => "invalid_rate",
                code => code,
            };
            fields.reject("commission_rate", code, message);
            None
        }
    });
    fields.finish()?;
    if commission_rate.is_none() && is_active.is_none() {
        return Err(ApiError::validation(vec![FieldError::new(
            "",
            "nothing_to_change",
            "Send commission_rate, is_active or both.",
        )]));
    }
    Ok(Change {
        commission_rate,
        is_active,
    })
}

async fn attempt(
    state: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    agent: &MarketplaceId,
    change: Change,
) -> Result<Attempt<EarningsRecord>, EarningsError> {
    let record = records::visible_record(state, caller, agent).await?;
    let now = clock::now();
    let mut next = record.clone();
    next.commission_rate = change.commission_rate.unwrap_or(record.commission_rate);
    next.is_active = change.is_active.unwrap_or(record.is_active);
    next.version += 1;
    next.updated_at = Some(clock::rfc3339(now));

    let audit = AuditEntry::success(AuditEvent::EarningsRecordChanged)
        .user(&caller.id)
        .detail("developer_id", record.developer_id.as_str())
        .detail("agent_id", agent.as_str())
        .detail("commission_rate_before", record.commission_rate.to_string())
        .detail("commission_rate", next.commission_rate.to_string())
        .detail("is_active_before", record.is_active)
        .detail("is_active", next.is_active)
        .into_item(meta, now, state.settings.audit_retention);
    let items = vec![
        records::put_record(state.table(), &next, None)?,
        db::put_new(state.table(), &audit)?,
    ];
    match db::transact(&state.dynamo, items).await {
        Ok(()) => Ok(Attempt::Done(next)),
        Err(e) if e.condition_failed_at(0) => Ok(Attempt::Changed),
        Err(TransactError::Cancelled(reasons)) => {
            Err(anyhow!("record change cancelled unexpectedly: {reasons:?}").into())
        }
        Err(TransactError::Unexpected(e)) => Err(e.context("change the record").into()),
    }
}
