//! `DELETE /users/me {current_password}`. The password is checked as a password change checks
//! it (a wrong one is a counted failed login; waits and lockout apply). A developer owed money
//! gets 409 `unpaid_balance`. Then one transaction makes the account dead: the profile (every
//! token check reads it), the credentials item (so the address is free for a new registration
//! at once), the failed-login count and the reset and verification pointers (so no mailed link
//! works) are deleted, the earnings records are closed to new sales on condition that they owe
//! nothing, an active admin leaves the active-admin count (409 `last_admin` when none would
//! remain), and the tombstone is written. The erasure of the rest
//! ([`capecontrol_shared::erasure`]) runs within the request's budget; what does not fit is
//! finished by the scheduled purge from the tombstone.

use anyhow::{anyhow, Context};
use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem, Update};
use capecontrol_shared::auth::{self, Caller};
use capecontrol_shared::clock;
use capecontrol_shared::db::{self, TransactError};
use capecontrol_shared::email::Email;
use capecontrol_shared::erasure::query::Partition;
use capecontrol_shared::erasure::{self, Budget, Progress};
use capecontrol_shared::fields::Fields;
use capecontrol_shared::http;
use capecontrol_shared::reauth;
use capecontrol_shared::request_meta::RequestMeta;
use capecontrol_shared::state::AppState;
use capecontrol_shared::store::deletions::TombstoneItem;
use capecontrol_shared::store::earnings::{self, EarningsRecord};
use capecontrol_shared::store::password_resets::Purpose;
use capecontrol_shared::store::users::{self, Profile, UserId};
use capecontrol_shared::store::{self as keys, admins, credentials, login_failures};
use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde_json::json;

use crate::{AccountError, Answer};

/// Writes of the dead-making transaction besides the records' closings (the last is the
/// active-admin count, for an admin).
const FIXED_WRITES: usize = 7;
/// Records closed in that transaction; any beyond are checked by their read only.
const RECORDS_IN_TRANSACTION: usize = 100 - FIXED_WRITES;

pub(crate) async fn delete(
    state: &AppState,
    request: &Request,
    meta: &RequestMeta,
) -> Result<Answer, AccountError> {
    let Caller { profile, .. } = auth::authenticate(state, request).await?;
    let current = parse(request)?;
    reauth::confirm_password(state, &profile, &current, meta).await?;
    let records = records_of(state, &profile.id).await?;
    if records.iter().any(|r| !r.balance.as_decimal().is_zero()) {
        return Err(AccountError::UnpaidBalance);
    }
    let tomb = kill(state, &profile, &records).await?;
    tracing::info!(user_id = %profile.id, event = "account_dead", "account deleted");
    let mut budget = Budget::time(state.settings.deletion_budget);
    let progress = match erasure::purge(state, &tomb, &mut budget).await {
        Ok(progress) => progress,
        Err(error) => {
            // The account is dead already; the scheduled purge resumes from the tombstone.
            tracing::warn!(error = format!("{error:#}"), "purge left to the schedule");
            Progress::Pending
        }
    };
    let purge = match progress {
        Progress::Complete => "complete",
        Progress::Pending => "pending",
    };
    Ok((
        StatusCode::OK,
        Some(json!({ "status": "deleted", "purge": purge })),
    ))
}

fn parse(request: &Request) -> Result<String, AccountError> {
    let mut fields = Fields::new(http::json_object(request)?);
    let current = fields.required_string("current_password");
    fields.finish()?;
    current.ok_or(AccountError::InvalidAccessToken)
}

async fn records_of(state: &AppState, user: &UserId) -> anyhow::Result<Vec<EarningsRecord>> {
    let partition = Partition::base(users::pk(user)).prefix(earnings::RECORD_SK_PREFIX);
    let mut records = Vec::new();
    let mut start = None;
    loop {
        let (items, next) = partition.page(state, 100, start).await?;
        for item in &items {
            records.push(EarningsRecord::from_item(item)?);
        }
        match next {
            Some(next) => start = Some(next),
            None => return Ok(records),
        }
    }
}

/// The one transaction after which the account no longer exists for any flow.
async fn kill(
    state: &AppState,
    profile: &Profile,
    records: &[EarningsRecord],
) -> Result<TombstoneItem, AccountError> {
    let table = state.table();
    let email = Email::parse(&profile.email).context("stored email is not canonical")?;
    let now = clock::rfc3339(clock::now());
    let tomb = TombstoneItem::new(&profile.id, email.as_str(), &now);
    let user_pk = users::pk(&profile.id);
    let mut items = vec![
        remove(
            table,
            keys::key(&user_pk, users::PROFILE_SK),
            Some((
                "token_version = :tv AND is_active = :yes AND #role = :role",
                profile,
            )),
        )?,
        remove(
            table,
            keys::key(credentials::pk(&email), credentials::SK),
            None,
        )?,
        remove(table, login_failures::key(&email), None)?,
        remove(
            table,
            keys::key(&user_pk, Purpose::PasswordReset.sk()),
            None,
        )?,
        remove(
            table,
            keys::key(&user_pk, Purpose::EmailVerification.sk()),
            None,
        )?,
        db::put_new(table, &tomb)?,
    ];
    let leaving_admin = admins::leaving(table, profile)?;
    let admin_at = leaving_admin.is_some().then_some(items.len());
    items.extend(leaving_admin);
    for record in records.iter().take(RECORDS_IN_TRANSACTION) {
        items.push(close(table, record)?);
    }
    let closings = items.len() - records.len().min(RECORDS_IN_TRANSACTION);
    match db::transact(&state.dynamo, items).await {
        Ok(()) => Ok(tomb),
        Err(e) if admin_at.is_some_and(|at| e.condition_failed_at(at)) => {
            Err(AccountError::LastAdmin)
        }
        Err(e) if e.condition_failed_at(0) || e.condition_failed_at(5) => {
            Err(AccountError::AccountChanged)
        }
        Err(e) if (closings..closings + records.len()).any(|i| e.condition_failed_at(i)) => {
            Err(AccountError::UnpaidBalance)
        }
        Err(TransactError::Cancelled(reasons)) => {
            Err(anyhow!("account deletion cancelled unexpectedly: {reasons:?}").into())
        }
        Err(TransactError::Unexpected(error)) => Err(error.context("delete the account").into()),
    }
}

/// A delete, conditioned (for the profile) on the account being the one checked.
fn remove(
    table: &str,
    key: keys::Item,
    profile_condition: Option<(&str, &Profile)>,
) -> anyhow::Result<TransactWriteItem> {
    let mut delete = Delete::builder().table_name(table).set_key(Some(key));
    if let Some((condition, profile)) = profile_condition {
        delete = delete
            .condition_expression(condition)
            .expression_attribute_values(
                ":tv",
                AttributeValue::N(profile.token_version.to_string()),
            )
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .expression_attribute_names("#role", "role")
            .expression_attribute_values(":role", AttributeValue::S(profile.role.as_str().into()));
    }
    let delete = delete.build().context("build a delete")?;
    Ok(TransactWriteItem::builder().delete(delete).build())
}

/// Closes a record to new sales (inactive, next version, so a posting racing this transaction
/// retries and meets the inactive record), on condition that it owes nothing.
fn close(table: &str, record: &EarningsRecord) -> anyhow::Result<TransactWriteItem> {
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(keys::key(
            earnings::record_pk(&record.developer_id),
            earnings::record_sk(&record.agent_id),
        )))
        .update_expression("SET is_active = :no ADD version :one")
        .condition_expression("balance = :zero")
        .expression_attribute_values(":no", AttributeValue::Bool(false))
        .expression_attribute_values(":one", AttributeValue::N("1".into()))
        .expression_attribute_values(":zero", AttributeValue::N("0".into()))
        .build()
        .context("build a record closing")?;
    Ok(TransactWriteItem::builder().update(update).build())
}
