//! Audit entries: what happened, to whom, from where, and whether it succeeded. Built here,
//! written by the caller in the same transaction as the change it records.

use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::clock;
use crate::request_meta::RequestMeta;
use crate::store::audit_log::{self, AuditItem};
use crate::store::users::UserId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditEvent {
    UserRegistered,
    LoginSucceeded,
    LoginFailed,
    TokenRefreshed,
    RefreshTokenReuseDetected,
    Logout,
    LogoutAll,
    RegistrationAttemptOnTakenEmail,
    MailFailed,
    EmailVerified,
    PasswordResetRequested,
    PasswordResetCompleted,
    PasswordChanged,
    /// A failed login made the email wait before its next attempt.
    LoginThrottleStarted,
    /// A failed login reached the lockout threshold: login refused until a password reset.
    LoginLockedOut,
    /// A login refused unchecked (and not counted): a wait or a lockout was in force.
    LoginThrottled,
    /// A request over a per-email or per-IP rate limit.
    RateLimited,
    EarningsAgentCreated,
    EarningsSaleRecorded,
    EarningsPayoutRecorded,
    EarningsRecordChanged,
    AdminGranted,
    ProfileUpdated,
    SessionRevoked,
    DataExported,
    /// The last step of an account's purge; carries no personal data.
    AccountDeleted,
    /// An admin changed a user's role or active state.
    AdminUserChanged,
    /// An admin listed users.
    AdminUsersListed,
    /// An admin read the audit trail.
    AdminAuditRead,
}

impl AuditEvent {
    pub const ALL: [Self; 29] = [
        Self::UserRegistered,
        Self::LoginSucceeded,
        Self::LoginFailed,
        Self::TokenRefreshed,
        Self::RefreshTokenReuseDetected,
        Self::Logout,
        Self::LogoutAll,
        Self::RegistrationAttemptOnTakenEmail,
        Self::MailFailed,
        Self::EmailVerified,
        Self::PasswordResetRequested,
        Self::PasswordResetCompleted,
        Self::PasswordChanged,
        Self::LoginThrottleStarted,
        Self::LoginLockedOut,
        Self::LoginThrottled,
        Self::RateLimited,
        Self::EarningsAgentCreated,
        Self::EarningsSaleRecorded,
        Self::EarningsPayoutRecorded,
        Self::EarningsRecordChanged,
        Self::AdminGranted,
        Self::ProfileUpdated,
        Self::SessionRevoked,
        Self::DataExported,
        Self::AccountDeleted,
        Self::AdminUserChanged,
        Self::AdminUsersListed,
        Self::AdminAuditRead,
    ];

    /// The event named `text` (an audit query's `event_type`).
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|event| event.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserRegistered => "user_registered",
            Self::LoginSucceeded => "login_succeeded",
            Self::LoginFailed => "login_failed",
            Self::TokenRefreshed => "token_refreshed",
            Self::RefreshTokenReuseDetected => "refresh_token_reuse_detected",
            Self::Logout => "logout",
            Self::LogoutAll => "logout_all",
            Self::RegistrationAttemptOnTakenEmail => "registration_attempt_on_taken_email",
            Self::MailFailed => "mail_failed",
            Self::EmailVerified => "email_verified",
            Self::PasswordResetRequested => "password_reset_requested",
            Self::PasswordResetCompleted => "password_reset_completed",
            Self::PasswordChanged => "password_changed",
            Self::LoginThrottleStarted => "login_throttle_started",
            Self::LoginLockedOut => "login_locked_out",
            Self::LoginThrottled => "login_throttled",
            Self::RateLimited => "rate_limited",
            Self::EarningsAgentCreated => "earnings_agent_created",
            Self::EarningsSaleRecorded => "earnings_sale_recorded",
            Self::EarningsPayoutRecorded => "earnings_payout_recorded",
            Self::EarningsRecordChanged => "earnings_record_changed",
            Self::AdminGranted => "admin_granted",
            Self::ProfileUpdated => "profile_updated",
            Self::SessionRevoked => "session_revoked",
            Self::DataExported => "data_exported",
            Self::AccountDeleted => "account_deleted",
            Self::AdminUserChanged => "admin_user_changed",
            Self::AdminUsersListed => "admin_users_listed",
            Self::AdminAuditRead => "admin_audit_read",
        }
    }

    fn description(self) -> &'static str {
        match self {
            Self::UserRegistered => "A new account was registered.",
            Self::LoginSucceeded => "A login succeeded.",
            Self::LoginFailed => "A login failed.",
            Self::TokenRefreshed => "A refresh token was rotated.",
            Self::RefreshTokenReuseDetected => {
                "A rotated refresh token was presented again; its session was revoked."
            }
            Self::Logout => "A session was ended.",
            Self::LogoutAll => "Every session of the account was ended.",
            Self::RegistrationAttemptOnTakenEmail => {
                "A registration used an address that already has an account; its owner was told."
            }
            Self::MailFailed => "A message could not be sent.",
            Self::EmailVerified => "An email address was verified.",
            Self::PasswordResetRequested => "A password reset was requested.",
            Self::PasswordResetCompleted => "A password was reset with a mailed token.",
            Self::PasswordChanged => "A password was changed by its owner.",
            Self::LoginThrottleStarted => "Failed logins made the email wait before the next try.",
            Self::LoginLockedOut => {
                "Failed logins reached the lockout threshold; a password reset lifts it."
            }
            Self::LoginThrottled => "A login was refused unchecked while throttled.",
            Self::RateLimited => "A request was refused over a rate limit.",
            Self::EarningsAgentCreated => "An earnings record was opened for an agent.",
            Self::EarningsSaleRecorded => "A sale was credited to an earnings record.",
            Self::EarningsPayoutRecorded => "A payout was debited from an earnings record.",
            Self::EarningsRecordChanged => "An earnings record's rate or status was changed.",
            Self::AdminGranted => "An operator created or promoted an admin account.",
            Self::ProfileUpdated => "A user changed their profile.",
            Self::SessionRevoked => "A user ended one of their sessions.",
            Self::DataExported => "A user exported a page of their stored data.",
            Self::AccountDeleted => "An account and its personal data were erased.",
            Self::AdminUserChanged => "An admin changed a user's role or active state.",
            Self::AdminUsersListed => "An admin listed user accounts.",
            Self::AdminAuditRead => "An admin read the audit trail.",
        }
    }
}

#[derive(Debug, Clone)]
pub struct AuditEntry {
    event: AuditEvent,
    success: bool,
    user: Option<UserId>,
    error_message: Option<&'static str>,
    metadata: Map<String, Value>,
}

impl AuditEntry {
    pub fn success(event: AuditEvent) -> Self {
        Self {
            event,
            success: true,
            user: None,
            error_message: None,
            metadata: Map::new(),
        }
    }

    /// `reason` is a fixed phrase chosen by the caller, never text from input or an error.
    pub fn failure(event: AuditEvent, reason: &'static str) -> Self {
        Self {
            success: false,
            error_message: Some(reason),
            ..Self::success(event)
        }
    }

    pub fn user(mut self, user: &UserId) -> Self {
        self.user = Some(user.clone());
        self
    }

    /// The user when known: entries about an unknown email carry neither user nor address.
    pub fn maybe_user(self, user: Option<&UserId>) -> Self {
        match user {
            Some(user) => self.user(user),
            None => self,
        }
    }

    /// Extra facts (ids, counts). Callers pass no secret: the value types keep it honest.
    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.metadata.insert(key.to_owned(), value.into());
        self
    }

    pub fn into_item(
        self,
        meta: &RequestMeta,
        at: OffsetDateTime,
        retention: time::Duration,
    ) -> AuditItem {
        let id = uuid::Uuid::new_v4().to_string();
        let index_sk = audit_log::index_sk(at, &id);
        AuditItem {
            pk: audit_log::pk(&id),
            sk: audit_log::SK.to_owned(),
            gsi1pk: self.user.as_ref().map(audit_log::user_index_pk),
            gsi1sk: self.user.as_ref().map(|_| index_sk.clone()),
            gsi2pk: audit_log::event_index_pk(self.event.as_str(), at),
            gsi2sk: index_sk.clone(),
            gsi3pk: audit_log::day_index_pk(at, self.success),
            gsi3sk: index_sk,
            entity: audit_log::ENTITY.to_owned(),
            id,
            user_id: self.user,
            event_type: self.event.as_str().to_owned(),
            event_description: self.event.description().to_owned(),
            ip_address: meta.source_ip.clone(),
            user_agent: meta.user_agent.clone(),
            endpoint: meta.endpoint.to_owned(),
            success: self.success,
            error_message: self.error_message.map(str::to_owned),
            metadata: (!self.metadata.is_empty()).then(|| Value::Object(self.metadata).to_string()),
            created_at: clock::rfc3339(at),
            ttl: clock::epoch_seconds(at + retention),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn meta() -> RequestMeta {
        RequestMeta {
            request_id: "r".into(),
            source_ip: Some("203.0.113.9".into()),
            user_agent: Some("curl/8".into()),
            endpoint: "POST /auth/login",
        }
    }

    #[test]
    fn an_entry_for_a_user_is_indexed_by_user_event_and_day() {
        let at = datetime!(2026-12-04 10:00:00 UTC);
        let user = UserId::generate();
        let item = AuditEntry::failure(AuditEvent::LoginFailed, "wrong password")
            .user(&user)
            .detail("attempt", 1)
            .into_item(&meta(), at, time::Duration::days(365));
        assert_eq!(item.gsi1pk, Some(format!("AUDITUSER#{user}")));
        assert_eq!(item.gsi2pk, "AUDITEVENT#login_failed#2026-12-04");
        assert_eq!(item.gsi3pk, "AUDITDAY#2026-12-04#false");
        assert_eq!(item.ttl, at.unix_timestamp() + 365 * 86_400);
        assert_eq!(item.metadata.as_deref(), Some("{\"attempt\":1}"));
        assert_eq!(item.error_message.as_deref(), Some("wrong password"));
        assert_eq!(item.ip_address.as_deref(), Some("203.0.113.9"));
    }

    #[test]
    fn an_entry_without_a_user_has_no_user_index_keys() {
        let item = AuditEntry::success(AuditEvent::Logout).into_item(
            &meta(),
            datetime!(2026-12-04 10:00:00 UTC),
            time::Duration::days(1),
        );
        assert_eq!(item.gsi1pk, None);
        assert_eq!(item.gsi1sk, None);
        assert_eq!(item.user_id, None);
    }
}
