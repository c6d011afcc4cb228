//! Sending account mail without letting a mail failure undo the change that caused it: the
//! failure is logged and audited, and the caller's answer stays a success. (A sent message is
//! logged only: the change that caused it has its own audit entry.)

use crate::audit::{AuditEntry, AuditEvent};
use crate::clock;
use crate::db;
use crate::email::Email;
use crate::mail::Mail;
use crate::request_meta::RequestMeta;
use crate::state::AppState;
use crate::store::users::UserId;

/// Sends `mail` to `to`; `kind` names it in logs and audit entries.
pub async fn deliver(
    state: &AppState,
    meta: &RequestMeta,
    user: Option<&UserId>,
    to: &Email,
    kind: &'static str,
    mail: Mail,
) {
    let Err(error) = state.mailer.send(to, &mail).await else {
        tracing::info!(mail = kind, "mail sent");
        return;
    };
    tracing::error!(error = format!("{error:#}"), mail = kind, "mail not sent");
    let mut entry = AuditEntry::failure(AuditEvent::MailFailed, "the mail service refused it")
        .detail("mail", kind);
    if let Some(user) = user {
        entry = entry.user(user);
    }
    let item = entry.into_item(meta, clock::now(), state.settings.audit_retention);
    if let Err(error) = db::put_one(&state.dynamo, state.table(), &item).await {
        tracing::error!(
            error = format!("{error:#}"),
            mail = kind,
            "mail outcome not audited"
        );
    }
}
