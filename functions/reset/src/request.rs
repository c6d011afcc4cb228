//! `POST /auth/password-reset {email}`. Both paths do the same work: read the credentials item,
//! mint a token, run one three-write transaction (the token, its pointer and the audit entry;
//! or two decoy checks that write nothing and the audit entry), then mail the link or wait as
//! long as mailing takes.

use capecontrol_shared::audit::{AuditEntry, AuditEvent};
use capecontrol_shared::db;
use capecontrol_shared::email::Email;
use capecontrol_shared::fields::Fields;
use capecontrol_shared::http;
use capecontrol_shared::request_meta::RequestMeta;
use capecontrol_shared::state::AppState;
use capecontrol_shared::store::password_resets::Purpose;
use capecontrol_shared::throttle::rate::RateScope;
use capecontrol_shared::{clock, one_time};
use lambda_http::Request;
use serde_json::{json, Value};

use crate::ResetError;

const PURPOSE: Purpose = Purpose::PasswordReset;

/// The one answer, whatever happened.
pub fn accepted_body() -> Value {
    json!({
        "status": "accepted",
        "message": "If this address has an account, a reset link is on its way to it.",
    })
}

pub async fn request(
    state: &AppState,
    request: &Request,
    meta: &RequestMeta,
) -> Result<(), ResetError> {
    let email = parse_email(request)?;
    let now = clock::now();
    let table = state.table();
    // Over a limit the answer is as usual, but nothing is sent: the same work as an unknown
    // address, so the limit reveals nothing either.
    let scope = RateScope::PASSWORD_RESET;
    let account = one_time::requested_account(state, scope, email.as_ref(), meta, now).await?;
    let (Some(account), Some(email)) = (account.filter(|c| c.is_active), email) else {
        let audit = AuditEntry::failure(AuditEvent::PasswordResetRequested, "no active account")
            .into_item(meta, now, state.settings.audit_retention);
        one_time::pretend(state, PURPOSE, vec![db::put_new(table, &audit)?]).await?;
        return Ok(());
    };

    let lifetime = state.settings.reset_token_ttl;
    let (token, mut items) = one_time::issue(
        table,
        PURPOSE,
        &account.user_id,
        &email,
        lifetime,
        meta,
        now,
    )?;
    let audit = AuditEntry::success(AuditEvent::PasswordResetRequested)
        .user(&account.user_id)
        .into_item(meta, now, state.settings.audit_retention);
    items.push(db::put_new(table, &audit)?);
    db::transact(&state.dynamo, items)
        .await
        .map_err(anyhow::Error::from)?;
    one_time::mail_link(state, meta, PURPOSE, &account.user_id, &email, &token).await;
    Ok(())
}

/// The address, or None when it is not one (answered like an unknown account).
pub(crate) fn parse_email(request: &Request) -> Result<Option<Email>, ResetError> {
    let object = http::json_object(request).map_err(ResetError::Rejected)?;
    let mut fields = Fields::new(object);
    let email = fields.required_string("email");
    fields.finish().map_err(ResetError::Rejected)?;
    Ok(email.and_then(|raw| Email::parse(&raw).ok()))
}
