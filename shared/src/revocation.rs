//! Ending sessions and invalidating tokens: shared by logout-all, password reset and change.
//! Bumping the user's token version is what revokes (every refresh checks it, and so does every
//! endpoint that reads the user); marking sessions revoked keeps their listing truthful.

use anyhow::Context;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use time::OffsetDateTime;

use crate::clock;
use crate::db;
use crate::email::Email;
use crate::store::sessions::{self, SessionItem};
use crate::store::users::{self, Profile, UserId};
use crate::store::{self as keys, credentials};

/// DynamoDB takes at most 100 writes per transaction; callers keep room for their own.
pub const SESSIONS_PER_TRANSACTION: usize = 90;

/// The user's sessions that are neither revoked nor past their absolute end.
pub async fn live_sessions(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    user: &UserId,
    now: OffsetDateTime,
) -> anyhow::Result<Vec<SessionItem>> {
    let items = client
        .query()
        .table_name(table)
        .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
        .expression_attribute_values(":pk", AttributeValue::S(sessions::pk(user)))
        .expression_attribute_values(":prefix", AttributeValue::S(sessions::SK_PREFIX.to_owned()))
        .consistent_read(true)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "query sessions: {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(&e)
            )
        })?;
    let mut live = Vec::new();
    for item in items {
        let session: SessionItem = db::from_item(item)?;
        if session.revoked_at.is_none() && session.expires_epoch > clock::epoch_seconds(now) {
            live.push(session);
        }
    }
    Ok(live)
}

/// Marks a session revoked, keeping the first revocation's time and reason.
pub fn revoke_session(
    table: &str,
    user: &UserId,
    family_id: &str,
    reason: &str,
    now: OffsetDateTime,
) -> anyhow::Result<TransactWriteItem> {
    revocation_update(table, user, family_id, reason, now, "attribute_exists(pk)")
}

/// Marks a live session revoked; the write's condition fails when it already was, so that a
/// repeated logout changes and records nothing.
pub fn end_live_session(
    table: &str,
    user: &UserId,
    family_id: &str,
    reason: &str,
    now: OffsetDateTime,
) -> anyhow::Result<TransactWriteItem> {
    let live = "attribute_exists(pk) AND attribute_not_exists(revoked_at)";
    revocation_update(table, user, family_id, reason, now, live)
}

fn revocation_update(
    table: &str,
    user: &UserId,
    family_id: &str,
    reason: &str,
    now: OffsetDateTime,
    condition: &str,
) -> anyhow::Result<TransactWriteItem> {
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(keys::key(sessions::pk(user), sessions::sk(family_id))))
        .update_expression(
            "SET revoked_at = if_not_exists(revoked_at, :now), \
             revoked_reason = if_not_exists(revoked_reason, :reason)",
        )
        .condition_expression(condition)
        .expression_attribute_values(":now", AttributeValue::S(clock::rfc3339(now)))
        .expression_attribute_values(":reason", AttributeValue::S(reason.to_owned()))
        .build()
        .context("build the session revocation")?;
    Ok(TransactWriteItem::builder().update(update).build())
}

pub fn revoke_sessions(
    table: &str,
    sessions: &[SessionItem],
    reason: &str,
    now: OffsetDateTime,
) -> anyhow::Result<Vec<TransactWriteItem>> {
    sessions
        .iter()
        .map(|s| revoke_session(table, &s.user_id, &s.family_id, reason, now))
        .collect()
}

/// The revocation writes for as many of `sessions` as fit in one transaction beside the
/// caller's own writes, and the sessions left over for [`mark_revoked`] afterwards.
pub fn first_batch<'a>(
    table: &str,
    sessions: &'a [SessionItem],
    reason: &str,
    now: OffsetDateTime,
) -> anyhow::Result<(Vec<TransactWriteItem>, &'a [SessionItem])> {
    let (first, rest) = sessions.split_at(sessions.len().min(SESSIONS_PER_TRANSACTION));
    Ok((revoke_sessions(table, first, reason, now)?, rest))
}

/// Increments the token version on the profile (on condition that it is still the one read)
/// and on the credentials item, in step. `password_hash`, when given, is set on credentials in
/// the same write. The profile's write is first: its condition failing means the user changed.
pub fn bump_token_version(
    table: &str,
    profile: &Profile,
    password_hash: Option<&str>,
    now: OffsetDateTime,
) -> anyhow::Result<Vec<TransactWriteItem>> {
    let email = Email::parse(&profile.email).context("stored email is not canonical")?;
    let next = AttributeValue::N((profile.token_version + 1).to_string());
    let user = Update::builder()
        .table_name(table)
        .set_key(Some(keys::key(users::pk(&profile.id), users::PROFILE_SK)))
        .update_expression("SET token_version = :next, updated_at = :now")
        .condition_expression("token_version = :tv")
        .expression_attribute_values(":tv", AttributeValue::N(profile.token_version.to_string()))
        .expression_attribute_values(":next", next.clone())
        .expression_attribute_values(":now", AttributeValue::S(clock::rfc3339(now)))
        .build()
        .context("build the user token-version update")?;
    let mut credentials = Update::builder()
        .table_name(table)
        .set_key(Some(keys::key(credentials::pk(&email), credentials::SK)))
        .condition_expression("user_id = :user")
        .expression_attribute_values(":next", next)
        .expression_attribute_values(":user", AttributeValue::S(profile.id.to_string()));
    credentials = match password_hash {
        Some(hash) => credentials
            .update_expression("SET token_version = :next, password_hash = :hash")
            .expression_attribute_values(":hash", AttributeValue::S(hash.to_owned())),
        None => credentials.update_expression("SET token_version = :next"),
    };
    Ok(vec![
        TransactWriteItem::builder().update(user).build(),
        TransactWriteItem::builder()
            .update(
                credentials
                    .build()
                    .context("build the credentials update")?,
            )
            .build(),
    ])
}

/// Marks the rest of `sessions` revoked, a transaction per batch; safe to repeat, and a failure
/// only leaves listings stale (the token version already ended the sessions).
pub async fn mark_revoked(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    sessions: &[SessionItem],
    reason: &str,
    now: OffsetDateTime,
) {
    for batch in sessions.chunks(SESSIONS_PER_TRANSACTION) {
        let result = match revoke_sessions(table, batch, reason, now) {
            Ok(items) => db::transact(client, items)
                .await
                .map_err(anyhow::Error::from),
            Err(error) => Err(error),
        };
        if let Err(error) = result {
            tracing::warn!(
                error = format!("{error:#}"),
                "some sessions not marked revoked"
            );
        }
    }
}
