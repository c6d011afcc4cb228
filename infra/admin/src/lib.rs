//! The first admin: admins are never self-assigned (registration offers customer and
//! developer only), so an operator creates one, or promotes an existing account, with table
//! access. The same transaction rules as the functions apply: profile and credentials change
//! together, with an audit entry, in one transaction.
//!
//! - Unknown email: a new account, role admin, verified (the operator vouches for it), with
//!   the password checked against the registration policy.
//! - Known email: the password must match the account's (so that nobody's account is taken
//!   over by naming its email); then role admin, verified, and the token version bumped, so
//!   tokens minted with the old role stop working wherever state is checked.
//!
//! Both count the new admin in the active-admin count (`store::admins`) in the same
//! transaction, so the rule "never zero active admins" holds from the first admin on.

use anyhow::{anyhow, bail, Context};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use capecontrol_shared::audit::{AuditEntry, AuditEvent};
use capecontrol_shared::clock;
use capecontrol_shared::db::{self, TransactError};
use capecontrol_shared::email::Email;
use capecontrol_shared::password::{Hasher, Password, PasswordHashString};
use capecontrol_shared::request_meta::RequestMeta;
use capecontrol_shared::store::admins;
use capecontrol_shared::store::credentials::{self, CredentialsItem};
use capecontrol_shared::store::users::{self, Profile, Role, UserId, UserItem};
use capecontrol_shared::store::{self as keys};
use time::OffsetDateTime;

/// What the grant did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Created(UserId),
    Promoted(UserId),
    AlreadyAdmin(UserId),
}

/// Where the grant writes and how it hashes.
#[derive(Debug)]
pub struct Target<'a> {
    pub dynamo: &'a aws_sdk_dynamodb::Client,
    pub table: &'a str,
    pub hasher: &'a Hasher,
    pub audit_retention: time::Duration,
}

pub async fn grant(target: &Target<'_>, email: &Email, password: &str) -> anyhow::Result<Outcome> {
    let key = keys::key(credentials::pk(email), credentials::SK);
    let stored: Option<CredentialsItem> = db::get(target.dynamo, target.table, key)
        .await
        .context("read the credentials")?;
    match stored {
        None => create(target, email, password).await,
        Some(credentials) => promote(target, &credentials, password).await,
    }
}

fn meta() -> RequestMeta {
    RequestMeta {
        request_id: uuid::Uuid::new_v4().to_string(),
        source_ip: None,
        user_agent: Some("capecontrol-admin".to_owned()),
        endpoint: "make admin",
    }
}

async fn create(target: &Target<'_>, email: &Email, password: &str) -> anyhow::Result<Outcome> {
    let password = Password::new_checked(password, &[email.as_str(), email.local_part()])
        .map_err(|rejection| anyhow!("the password is refused: {rejection}"))?;
    let hash = target.hasher.hash(password).await?;
    let now = clock::now();
    let profile = admin_profile(email, now);
    let credentials = CredentialsItem {
        pk: credentials::pk(email),
        sk: credentials::SK.to_owned(),
        entity: credentials::ENTITY.to_owned(),
        user_id: profile.id.clone(),
        email: email.to_string(),
        password_hash: hash.expose().to_owned(),
        role: Role::Admin,
        is_active: true,
        is_verified: true,
        token_version: 0,
    };
    let audit = AuditEntry::success(AuditEvent::AdminGranted)
        .user(&profile.id)
        .detail("created", true)
        .into_item(&meta(), now, target.audit_retention);
    let id = profile.id.clone();
    let mut items = vec![
        db::put_new(target.table, &credentials)?,
        db::put_new(target.table, &UserItem::new(profile, now))?,
        db::put_new(target.table, &audit)?,
    ];
    items.extend(admins::count_change(target.table, 1)?);
    match db::transact(target.dynamo, items).await {
        Ok(()) => Ok(Outcome::Created(id)),
        Err(e) if e.condition_failed_at(0) => {
            bail!("the email was registered meanwhile; run again")
        }
        Err(TransactError::Cancelled(reasons)) => bail!("creation cancelled: {reasons:?}"),
        Err(TransactError::Unexpected(e)) => Err(e.context("write the admin account")),
    }
}

fn admin_profile(email: &Email, now: OffsetDateTime) -> Profile {
    let at = clock::rfc3339(now);
    let profile = Profile::new(
        UserId::generate(),
        email.to_string(),
        Role::Admin,
        at.clone(),
    );
    Profile {
        is_verified: true,
        email_verified_at: Some(at),
        ..profile
    }
}

async fn promote(
    target: &Target<'_>,
    credentials: &CredentialsItem,
    password: &str,
) -> anyhow::Result<Outcome> {
    let attempt = Password::from_attempt(password).context("the password is too long")?;
    let stored = PasswordHashString::new(credentials.password_hash.clone());
    if !target.hasher.verify(attempt, stored).await? {
        bail!("the password does not match the existing account; nothing changed");
    }
    let key = keys::key(users::pk(&credentials.user_id), users::PROFILE_SK);
    let item: UserItem = db::get(target.dynamo, target.table, key)
        .await
        .context("read the profile")?
        .context("credentials without a profile")?;
    let profile = item.profile;
    if !profile.is_active {
        bail!("the account is deactivated; nothing changed");
    }
    if profile.role == Role::Admin && profile.is_verified {
        return Ok(Outcome::AlreadyAdmin(profile.id));
    }
    let now = clock::now();
    let audit = AuditEntry::success(AuditEvent::AdminGranted)
        .user(&profile.id)
        .detail("created", false)
        .detail("previous_role", profile.role.as_str())
        .into_item(&meta(), now, target.audit_retention);
    let mut items = promotion(target.table, &profile, now)?;
    items.push(db::put_new(target.table, &audit)?);
    let became_admin = admins::delta((profile.role, true), (Role::Admin, true));
    items.extend(admins::count_change(target.table, became_admin)?);
    match db::transact(target.dynamo, items).await {
        Ok(()) => Ok(Outcome::Promoted(profile.id)),
        Err(e) if e.condition_failed_at(0) => bail!("the account changed meanwhile; run again"),
        Err(TransactError::Cancelled(reasons)) => bail!("promotion cancelled: {reasons:?}"),
        Err(TransactError::Unexpected(e)) => Err(e.context("promote the account")),
    }
}

/// Role admin and verified on the profile and the credentials copy, token version
/// bumped, on condition that the profile is still active at the version read.
fn promotion(
    table: &str,
    profile: &Profile,
    now: OffsetDateTime,
) -> anyhow::Result<Vec<TransactWriteItem>> {
    let email = Email::parse(&profile.email).context("stored email is not canonical")?;
    let next = AttributeValue::N((profile.token_version + 1).to_string());
    let admin = AttributeValue::S(Role::Admin.as_str().to_owned());
    let yes = AttributeValue::Bool(true);
    let user = Update::builder()
        .table_name(table)
        .set_key(Some(keys::key(users::pk(&profile.id), users::PROFILE_SK)))
        .update_expression(
            "SET #role = :admin, is_verified = :yes, token_version = :next, \
             email_verified_at = if_not_exists(email_verified_at, :now), updated_at = :now, \
             gsi1pk = :list_index",
        )
        .condition_expression("token_version = :tv AND is_active = :yes")
        .expression_attribute_names("#role", "role")
        .expression_attribute_values(":admin", admin.clone())
        .expression_attribute_values(":yes", yes.clone())
        .expression_attribute_values(":next", next.clone())
        .expression_attribute_values(":now", AttributeValue::S(clock::rfc3339(now)))
        .expression_attribute_values(
            ":list_index",
            AttributeValue::S(users::list_index_pk(Role::Admin, true)),
        )
        .expression_attribute_values(":tv", AttributeValue::N(profile.token_version.to_string()))
        .build()
        .context("build the profile promotion")?;
    let copy = Update::builder()
        .table_name(table)
        .set_key(Some(keys::key(credentials::pk(&email), credentials::SK)))
        .update_expression("SET #role = :admin, is_verified = :yes, token_version = :next")
        .condition_expression("user_id = :user")
        .expression_attribute_names("#role", "role")
        .expression_attribute_values(":admin", admin)
        .expression_attribute_values(":yes", yes)
        .expression_attribute_values(":next", next)
        .expression_attribute_values(":user", AttributeValue::S(profile.id.to_string()))
        .build()
        .context("build the credentials promotion")?;
    Ok(vec![
        TransactWriteItem::builder().update(user).build(),
        TransactWriteItem::builder().update(copy).build(),
    ])
}
