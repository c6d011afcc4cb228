//! `POST /earnings/agents {agent_id, agent_name, currency, developer_id}`: opens the earnings
//! record of a new agent at the default rate. A verified developer opens their own; an admin
//! names the developer. The ownership item (which makes agent ids unique marketplace-wide),
//! the record and the audit entry are one transaction.

use anyhow::{anyhow, Context};
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, TransactWriteItem};
use capecontrol_shared::audit::{AuditEntry, AuditEvent};
use capecontrol_shared::clock;
use capecontrol_shared::db::{self, TransactError};
use capecontrol_shared::fields::Fields;
use capecontrol_shared::http::{self, ApiError};
use capecontrol_shared::money::{CommissionRate, Currency, Money};
use capecontrol_shared::request_meta::RequestMeta;
use capecontrol_shared::state::AppState;
use capecontrol_shared::store::audit_log::AuditItem;
use capecontrol_shared::store::earnings::{AgentItem, EarningsRecord, MarketplaceId};
use capecontrol_shared::store::users::{self, Role, UserId};
use capecontrol_shared::store::{self as keys};
use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde_json::json;

use crate::access::{self, Caller};
use crate::{form, view, Answer, EarningsError};

const MAX_NAME_CHARS: usize = 255;

#[derive(Debug)]
pub(crate) struct NewAgent {
    agent_id: MarketplaceId,
    pub agent_name: Option<String>,
    currency: Currency,
    developer_id: Option<UserId>,
}

pub(crate) async fn create(
    state: &AppState,
    request: &Request,
    meta: &RequestMeta,
) -> Result<Answer, EarningsError> {
    let caller = access::caller(state, request).await?;
    let form = parse(request)?;
    let developer = target_developer(state, &caller, form.developer_id.clone()).await?;

    let now = clock::now();
    let record = opened_record(&form, &developer, &clock::rfc3339(now));
    let audit = AuditEntry::success(AuditEvent::EarningsAgentCreated)
        .user(&caller.id)
        .detail("developer_id", developer.as_str())
        .detail("agent_id", record.agent_id.as_str())
        .detail("currency", record.currency.as_str())
        .into_item(meta, now, state.settings.audit_retention);
    write_opening(state, &caller, &record, &audit).await?;
    tracing::info!(
        user_id = %caller.id,
        developer_id = %developer,
        agent_id = %record.agent_id,
        event = "earnings_agent_created",
        "earnings record opened"
    );
    let body = json!({ "record": view::record(&record) });
    Ok(Answer::json(StatusCode::CREATED, &body))
}

/// Where the check that the developer still exists sits in the opening transaction.
const DEVELOPER_AT: usize = 3;

/// The ownership item, the record and the audit entry, all new, in one transaction, on
/// condition that the developer is still an active developer: an account deleted (or demoted,
/// or deactivated) after the request read it gets no record its erasure could miss.
async fn write_opening(
    state: &AppState,
    caller: &Caller,
    record: &EarningsRecord,
    audit: &AuditItem,
) -> Result<(), EarningsError> {
    let table = state.table();
    let owner = AgentItem {
        audit_id: Some(audit.id.clone()),
        ..AgentItem::new(&record.agent_id, &record.developer_id, &record.created_at)
    };
    let items = vec![
        db::put_new(table, &owner)?,
        db::put_new_item(table, record.to_item())?,
        db::put_new(table, audit)?,
        developer_check(table, &record.developer_id)?,
    ];
    match db::transact(&state.dynamo, items).await {
        Ok(()) => Ok(()),
        Err(e) if e.condition_failed_at(DEVELOPER_AT) => Err(gone(caller, &record.developer_id)),
        Err(e) if e.condition_failed_at(0) || e.condition_failed_at(1) => {
            Err(EarningsError::AgentTaken)
        }
        Err(TransactError::Cancelled(reasons)) => {
            Err(anyhow!("agent creation cancelled unexpectedly: {reasons:?}").into())
        }
        Err(TransactError::Unexpected(e)) => Err(e.context("open the record").into()),
    }
}

/// The developer's profile exists, is active and has the developer role.
fn developer_check(table: &str, developer: &UserId) -> anyhow::Result<TransactWriteItem> {
    let check = ConditionCheck::builder()
        .table_name(table)
        .set_key(Some(keys::key(users::pk(developer), users::PROFILE_SK)))
        .condition_expression("is_active = :yes AND #role = :developer")
        .expression_attribute_names("#role", "role")
        .expression_attribute_values(":yes", AttributeValue::Bool(true))
        .expression_attribute_values(
            ":developer",
            AttributeValue::S(Role::Developer.as_str().to_owned()),
        )
        .build()
        .context("build the developer check")?;
    Ok(TransactWriteItem::builder().condition_check(check).build())
}

/// The answer when the developer changed between the read and the write: to the developer
/// themselves their token no longer holds; to an admin it names no active developer.
fn gone(caller: &Caller, developer: &UserId) -> EarningsError {
    if caller.id == *developer {
        EarningsError::InvalidAccessToken
    } else {
        not_a_developer()
    }
}

fn not_a_developer() -> EarningsError {
    EarningsError::field(
        "developer_id",
        "not_a_developer",
        "This user is not an active developer.",
    )
}

pub(crate) fn parse(request: &Request) -> Result<NewAgent, ApiError> {
    let mut fields = Fields::new(http::json_object(request)?);
    let agent_id = form::id(&mut fields, "agent_id");
    let agent_name = fields.optional_string("agent_name");
    let currency = fields.optional_string("currency");
    let developer_id = fields.optional_string("developer_id");

    if let Some(name) = &agent_name {
        if name.chars().count() > MAX_NAME_CHARS {
            fields.reject("agent_name", "too_long", "At most 255 characters.");
        } else if name.chars().any(char::is_control) {
            fields.reject("agent_name", "invalid_characters", "No control characters.");
        }
    }
    let currency = match currency {
        None => Some(Currency::standard()),
        Some(text) => form::currency(&mut fields, "currency", &text),
    };
    let developer_id =
        developer_id.and_then(|text| form::user_text(&mut fields, "developer_id", &text));
    fields.finish()?;
    match (agent_id, currency) {
        (Some(agent_id), Some(currency)) => Ok(NewAgent {
            agent_id,
            agent_name,
            currency,
            developer_id,
        }),
        // A field that failed to parse recorded an error, so finish() returned it above.
        _ => Err(ApiError::internal()),
    }
}

/// The developer the new record belongs to. An admin must name one, and it must be an active
/// developer; a developer may name only themselves.
async fn target_developer(
    state: &AppState,
    caller: &Caller,
    named: Option<UserId>,
) -> Result<UserId, EarningsError> {
    if !caller.is_admin() {
        return caller.developer_in_scope(named);
    }
    let Some(developer) = named else {
        return Err(EarningsError::field(
            "developer_id",
            "required",
            "Admins name the developer the agent belongs to.",
        ));
    };
    if !access::active_developer(state, &developer).await? {
        return Err(not_a_developer());
    }
    Ok(developer)
}

fn opened_record(form: &NewAgent, developer: &UserId, now: &str) -> EarningsRecord {
    EarningsRecord {
        agent_id: form.agent_id.clone(),
        agent_name: form.agent_name.clone(),
        developer_id: developer.clone(),
        total_sales: Money::zero(),
        commission_rate: CommissionRate::standard(),
        revenue_share: Money::zero(),
        last_payout_amount: Money::zero(),
        last_payout_at: None,
        total_paid_out: Money::zero(),
        balance: Money::zero(),
        currency: form.currency.clone(),
        is_active: true,
        created_at: now.to_owned(),
        updated_at: None,
        version: 0,
    }
}
