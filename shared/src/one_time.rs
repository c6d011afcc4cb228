//! One-time tokens sent by mail (password reset, email verification): minted with 256 random
//! bits, stored only as a hash, superseded by the next one of the same purpose, used once by a
//! conditional write, expiry checked in code as well as by TTL.

use anyhow::Context;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, TransactWriteItem, Update};
use time::{Duration, OffsetDateTime};

use crate::clock;
use crate::db;
use crate::email::Email;
use crate::mail::Mail;
use crate::notify;
use crate::opaque_token::OpaqueToken;
use crate::request_meta::RequestMeta;
use crate::state::AppState;
use crate::store::credentials::{self, CredentialsItem};
use crate::store::password_resets::{CurrentTokenItem, OneTimeTokenItem, Purpose};
use crate::store::users::UserId;
use crate::store::{self, Item};
use crate::throttle::{self, rate::RateScope};

/// A new token for `user` and the two writes that store it and make it the only valid one.
pub fn issue(
    table: &str,
    purpose: Purpose,
    user: &UserId,
    email: &Email,
    lifetime: Duration,
    meta: &RequestMeta,
    now: OffsetDateTime,
) -> anyhow::Result<(OpaqueToken, Vec<TransactWriteItem>)> {
    let token = OpaqueToken::generate()?;
    let hash = token.hash();
    let expires = now + lifetime;
    let item = OneTimeTokenItem {
        pk: purpose.pk(&hash),
        sk: purpose.sk().to_owned(),
        gsi1pk: purpose.user_index_pk(user),
        gsi1sk: clock::rfc3339(now),
        entity: purpose.entity().to_owned(),
        user_id: user.clone(),
        email: email.to_string(),
        expires_at: clock::rfc3339(expires),
        expires_epoch: clock::epoch_seconds(expires),
        is_used: false,
        used_at: None,
        ip_address: meta.source_ip.clone(),
        user_agent: meta.user_agent.clone(),
        created_at: clock::rfc3339(now),
        ttl: clock::epoch_seconds(expires),
    };
    let pointer = CurrentTokenItem {
        pk: purpose.pointer_pk(user),
        sk: purpose.sk().to_owned(),
        entity: purpose.pointer_entity().to_owned(),
        token_hash: hash,
        ttl: clock::epoch_seconds(expires),
    };
    let writes = vec![db::put_new(table, &item)?, db::put(table, &pointer)?];
    Ok((token, writes))
}

/// Mails the link that carries `token` to `email`: the verification page or the reset page,
/// by purpose. A failed send is logged and audited, not returned (see [`notify::deliver`]).
pub async fn mail_link(
    state: &AppState,
    meta: &RequestMeta,
    purpose: Purpose,
    user: &UserId,
    email: &Email,
    token: &OpaqueToken,
) {
    let (kind, mail) = match purpose {
        Purpose::EmailVerification => {
            let link = state.links.with_token("/verify-email", token);
            ("verify_email", Mail::VerifyEmail { link })
        }
        Purpose::PasswordReset => {
            let link = state.links.with_token("/reset-password", token);
            ("password_reset", Mail::PasswordReset { link })
        }
    };
    notify::deliver(state, meta, Some(user), email, kind, mail).await;
}

/// Two writes shaped like [`issue`]'s that change nothing: condition checks on keys that do not
/// exist. Paths for unknown accounts run them so that they cost what the real path costs.
pub fn decoy(table: &str, purpose: Purpose) -> anyhow::Result<Vec<TransactWriteItem>> {
    let absent = |pk: String| -> anyhow::Result<TransactWriteItem> {
        let check = ConditionCheck::builder()
            .table_name(table)
            .set_key(Some(store::key(pk, purpose.sk())))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .context("build a decoy check")?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    };
    let random = OpaqueToken::generate()?.hash();
    Ok(vec![
        absent(purpose.pk(&random))?,
        absent(format!("DECOY#{random}"))?,
    ])
}

/// The account a mailed-token request (reset, resend) is for: none when the address did not
/// parse, is over a rate limit, or has no account. The read happens on every path but the
/// unparseable one, so the answer's timing does not depend on whether the account exists.
pub async fn requested_account(
    state: &AppState,
    scope: RateScope,
    email: Option<&Email>,
    meta: &RequestMeta,
    now: OffsetDateTime,
) -> anyhow::Result<Option<CredentialsItem>> {
    let limited = throttle::rate::limit_request(state, scope, email, meta, now)
        .await?
        .is_limited();
    let Some(email) = email.filter(|_| !limited) else {
        return Ok(None);
    };
    let key = store::key(credentials::pk(email), credentials::SK);
    db::get(&state.dynamo, state.table(), key)
        .await
        .context("read credentials")
}

/// The work of a request that ends up sending nothing: the decoy writes (with `extra`, such as
/// its audit entry) in one transaction, then a wait as long as a send takes.
pub async fn pretend(
    state: &AppState,
    purpose: Purpose,
    extra: Vec<TransactWriteItem>,
) -> anyhow::Result<()> {
    let mut items = decoy(state.table(), purpose)?;
    items.extend(extra);
    db::transact(&state.dynamo, items)
        .await
        .map_err(anyhow::Error::from)?;
    state.mailer.send_nothing().await;
    Ok(())
}

/// The token's item while it can still be used: present, unused and unexpired.
pub async fn load_usable(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    purpose: Purpose,
    token: &OpaqueToken,
    now: OffsetDateTime,
) -> anyhow::Result<Option<OneTimeTokenItem>> {
    let key = store::key(purpose.pk(&token.hash()), purpose.sk());
    let item: Option<OneTimeTokenItem> = db::get(client, table, key).await?;
    Ok(item.filter(|t| !t.is_used && t.expires_epoch > clock::epoch_seconds(now)))
}

/// Marks the token used, on condition that it is unused, unexpired and still the user's
/// current one. The two writes go first in the caller's transaction, so that a failure of
/// either is reported at index 0 or 1.
pub fn redeem(
    table: &str,
    purpose: Purpose,
    token: &OneTimeTokenItem,
    now: OffsetDateTime,
) -> anyhow::Result<Vec<TransactWriteItem>> {
    let token_hash = token
        .pk
        .trim_start_matches(&format!("{}#", purpose.sk()))
        .to_owned();
    let mark_used = Update::builder()
        .table_name(table)
        .set_key(Some(store::key(token.pk.clone(), purpose.sk())))
        .update_expression("SET is_used = :yes, used_at = :now")
        .condition_expression("is_used = :no AND expires_epoch > :now_s")
        .expression_attribute_values(":yes", AttributeValue::Bool(true))
        .expression_attribute_values(":no", AttributeValue::Bool(false))
        .expression_attribute_values(":now", AttributeValue::S(clock::rfc3339(now)))
        .expression_attribute_values(
            ":now_s",
            AttributeValue::N(clock::epoch_seconds(now).to_string()),
        )
        .build()
        .context("build the token use")?;
    let still_current = ConditionCheck::builder()
        .table_name(table)
        .set_key(Some(store::key(
            purpose.pointer_pk(&token.user_id),
            purpose.sk(),
        )))
        .condition_expression("token_hash = :hash")
        .expression_attribute_values(":hash", AttributeValue::S(token_hash))
        .build()
        .context("build the current-token check")?;
    Ok(vec![
        TransactWriteItem::builder().update(mark_used).build(),
        TransactWriteItem::builder()
            .condition_check(still_current)
            .build(),
    ])
}

/// The key of the item a token of `purpose` is stored under (tests and deletion).
pub fn token_key(purpose: Purpose, token: &OpaqueToken) -> Item {
    store::key(purpose.pk(&token.hash()), purpose.sk())
}
