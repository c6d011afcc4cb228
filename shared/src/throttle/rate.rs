//! Fixed-window rate limits: at most `max` requests per `window` for one (scope, key), counted
//! in one item per window by a conditional `ADD` (atomic under concurrency; a refused request
//! is not counted). Windows are aligned to the epoch, so a burst across a window boundary can
//! let through up to twice `max` within one window's length: the price of one write per
//! request and no read.

use anyhow::Context;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue;
use std::fmt;
use std::net::IpAddr;
use time::{Duration, OffsetDateTime};

use super::RetryAfter;
use crate::audit::{AuditEntry, AuditEvent};
use crate::db;
use crate::email::Email;
use crate::request_meta::RequestMeta;
use crate::state::AppState;
use crate::store::{self, rate_limits, Item};

/// What is limited. Each scope counts apart, so reset requests do not use up registrations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateScope(&'static str);

impl RateScope {
    pub const PASSWORD_RESET: Self = Self("password_reset");
    pub const VERIFICATION_RESEND: Self = Self("verification_resend");
    pub const REGISTER: Self = Self("register");

    pub fn as_str(self) -> &'static str {
        self.0
    }
}

/// Whose requests are counted: a canonical email, or a source address. IPv6 addresses count
/// per /64 network, the block one subscriber usually gets whole; IPv4-mapped IPv6 counts as
/// its IPv4 address.
#[derive(Clone, PartialEq, Eq)]
pub struct RateKey {
    kind: &'static str,
    text: String,
}

impl RateKey {
    pub fn email(email: &Email) -> Self {
        Self {
            kind: "email",
            text: format!("email:{email}"),
        }
    }

    pub fn ip(address: IpAddr) -> Self {
        let text = match address {
            IpAddr::V4(v4) => format!("ip:{v4}"),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => format!("ip:{v4}"),
                None => {
                    let s = v6.segments();
                    format!("ip:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
                }
            },
        };
        Self { kind: "ip", text }
    }

    /// `email` or `ip`: what an audit entry may say about the key.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// An email is personal data: debug output names only the kind of key.
impl fmt::Debug for RateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RateKey({}:***)", self.kind)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub max: u32,
    /// Whole seconds, at least one.
    pub window: Duration,
}

/// The limits applied to every scope, by email and by source IP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    pub per_email: RateLimit,
    pub per_ip: RateLimit,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            per_email: RateLimit {
                max: 3,
                window: Duration::minutes(15),
            },
            per_ip: RateLimit {
                max: 100,
                window: Duration::hours(1),
            },
        }
    }
}

#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    Allowed,
    Limited { retry_after: RetryAfter },
}

impl RateDecision {
    pub fn is_limited(self) -> bool {
        matches!(self, Self::Limited { .. })
    }

    /// The stricter of two decisions: limited if either is, with the longer wait.
    pub fn and(self, other: Self) -> Self {
        match (self, other) {
            (Self::Limited { retry_after: a }, Self::Limited { retry_after: b }) => Self::Limited {
                retry_after: a.max(b),
            },
            (Self::Allowed, decision) | (decision, Self::Allowed) => decision,
        }
    }
}

/// One window of `limit` as of `now`: its start (epoch seconds) and end.
fn window(limit: RateLimit, now: OffsetDateTime) -> (i64, OffsetDateTime) {
    let length = limit.window.whole_seconds().max(1);
    let start = now.unix_timestamp().div_euclid(length) * length;
    let end = OffsetDateTime::from_unix_timestamp(start + length).unwrap_or(now);
    (start, end)
}

/// How long after its end a window item may still exist: DynamoDB's TTL deletes up to two
/// days late.
const TTL_LAG: Duration = Duration::days(2);

/// The keys of every per-email window of `email` that may still be stored at `now` (in every
/// scope), for the export and erasure of an account; most do not exist.
pub fn email_window_keys(limits: &RateLimits, email: &Email, now: OffsetDateTime) -> Vec<Item> {
    let key = RateKey::email(email);
    let length = limits.per_email.window.whole_seconds().max(1);
    let (current, _) = window(limits.per_email, now);
    let oldest = (now - TTL_LAG - limits.per_email.window).unix_timestamp();
    let starts: Vec<i64> = (0..)
        .map(|n| current - n * length)
        .take_while(|start| *start >= oldest)
        .collect();
    [
        RateScope::PASSWORD_RESET,
        RateScope::VERIFICATION_RESEND,
        RateScope::REGISTER,
    ]
    .iter()
    .flat_map(|scope| {
        let key = &key;
        starts.iter().map(move |start| {
            store::key(
                rate_limits::pk(scope.as_str(), key.as_str(), *start),
                rate_limits::SK,
            )
        })
    })
    .collect()
}

/// Counts one request of `key` in `scope` against `limit`, unless the window is full. One
/// UpdateItem; no audit entry (see [`limit_request`] for the audited form).
pub async fn rate_limit(
    state: &AppState,
    scope: RateScope,
    key: &RateKey,
    limit: RateLimit,
    now: OffsetDateTime,
) -> anyhow::Result<RateDecision> {
    let (start, end) = window(limit, now);
    let number = |value: i64| AttributeValue::N(value.to_string());
    let result = state
        .dynamo
        .update_item()
        .table_name(state.table())
        .set_key(Some(store::key(
            rate_limits::pk(scope.as_str(), key.as_str(), start),
            rate_limits::SK,
        )))
        .update_expression("ADD #hits :one SET #entity = :entity, #ttl = :ttl")
        .condition_expression("attribute_not_exists(#hits) OR #hits < :max")
        .expression_attribute_names("#hits", "hits")
        .expression_attribute_names("#entity", "entity")
        .expression_attribute_names("#ttl", store::TTL)
        .expression_attribute_values(":one", number(1))
        .expression_attribute_values(":max", number(i64::from(limit.max)))
        .expression_attribute_values(":entity", AttributeValue::S(rate_limits::ENTITY.into()))
        .expression_attribute_values(":ttl", number(end.unix_timestamp()))
        .send()
        .await;
    match result {
        Ok(_) => Ok(RateDecision::Allowed),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
        {
            Ok(RateDecision::Limited {
                retry_after: RetryAfter::until(end, now),
            })
        }
        Err(error) => Err(anyhow::anyhow!(
            "count a request of {}: {}",
            scope.as_str(),
            DisplayErrorContext(&error)
        )),
    }
}

/// Applies the configured limits of `scope` to a request: per email (when given) and per
/// source IP (when API Gateway gave one), both counted at once, each refusal audited as
/// `rate_limited` without the address. Each limit counts the requests it lets through, so a
/// request refused by one limit still counts against the other.
pub async fn limit_request(
    state: &AppState,
    scope: RateScope,
    email: Option<&Email>,
    meta: &RequestMeta,
    now: OffsetDateTime,
) -> anyhow::Result<RateDecision> {
    let limits = state.settings.rate_limits;
    let ip = meta.source_ip.as_deref().and_then(|ip| ip.parse().ok());
    let by_email = email.map(|email| (RateKey::email(email), limits.per_email));
    let by_ip = ip.map(|ip| (RateKey::ip(ip), limits.per_ip));
    let check = |entry: Option<(RateKey, RateLimit)>| async move {
        let Some((key, limit)) = entry else {
            return Ok(RateDecision::Allowed);
        };
        let decision = rate_limit(state, scope, &key, limit, now).await?;
        if let RateDecision::Limited { retry_after } = decision {
            audit_limited(state, scope, &key, retry_after, meta, now).await;
        }
        Ok::<_, anyhow::Error>(decision)
    };
    let (email_decision, ip_decision) = tokio::join!(check(by_email), check(by_ip));
    let decision = email_decision.context("rate limit by email")?;
    Ok(decision.and(ip_decision.context("rate limit by source IP")?))
}

async fn audit_limited(
    state: &AppState,
    scope: RateScope,
    key: &RateKey,
    retry_after: RetryAfter,
    meta: &RequestMeta,
    now: OffsetDateTime,
) {
    let item = AuditEntry::failure(AuditEvent::RateLimited, "rate limit reached")
        .detail("scope", scope.as_str())
        .detail("limited_by", key.kind())
        .detail("retry_after_seconds", retry_after.seconds())
        .into_item(meta, now, state.settings.audit_retention);
    tracing::info!(
        event = "rate_limited",
        scope = scope.as_str(),
        limited_by = key.kind(),
        "request over a rate limit"
    );
    if let Err(error) = db::put_one(&state.dynamo, state.table(), &item).await {
        tracing::error!(error = format!("{error:#}"), "rate limit hit not audited");
    }
}

/// Settings that would make a limit meaningless are refused at start.
pub fn validate(limits: &RateLimits) -> anyhow::Result<()> {
    for limit in [limits.per_email, limits.per_ip] {
        if limit.max == 0 || limit.window < Duration::seconds(1) {
            anyhow::bail!("a rate limit needs a positive maximum and a window of a second or more");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn keys_name_their_kind_and_the_canonical_address() {
        let email = Email::parse("Ann@Example.com").expect("email");
        assert_eq!(RateKey::email(&email).as_str(), "email:ann@example.com");
        let v4: IpAddr = "203.0.113.9".parse().expect("ip");
        assert_eq!(RateKey::ip(v4).as_str(), "ip:203.0.113.9");
        assert_eq!(RateKey::ip(v4).kind(), "ip");
        assert_eq!(
            format!("{:?}", RateKey::email(&email)),
            "RateKey(email:***)"
        );
    }

    #[test]
    fn ipv6_addresses_count_per_64_network_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:aa:bb:1::1".parse().expect("ip");
        let b: IpAddr = "2001:DB8:AA:BB:ffff::9".parse().expect("ip");
        assert_eq!(RateKey::ip(a).as_str(), "ip:2001:db8:aa:bb::/64");
        assert_eq!(RateKey::ip(a), RateKey::ip(b));
        let mapped: IpAddr = "::ffff:203.0.113.9".parse().expect("ip");
        assert_eq!(RateKey::ip(mapped).as_str(), "ip:203.0.113.9");
    }

    #[test]
    fn scopes_are_pinned() {
        assert_eq!(RateScope::PASSWORD_RESET.as_str(), "password_reset");
        assert_eq!(
            RateScope::VERIFICATION_RESEND.as_str(),
            "verification_resend"
        );
        assert_eq!(RateScope::REGISTER.as_str(), "register");
    }

    #[test]
    fn windows_are_aligned_to_the_epoch() {
        let limit = RateLimits::default().per_email;
        let now = datetime!(2026-12-04 10:07:30 UTC);
        let (start, end) = window(limit, now);
        assert_eq!(start, datetime!(2026-12-04 10:00:00 UTC).unix_timestamp());
        assert_eq!(end, datetime!(2026-12-04 10:15:00 UTC));
        assert_eq!(RetryAfter::until(end, now).seconds(), 450);
    }

    #[test]
    fn the_stricter_decision_wins() {
        let wait = |s| RateDecision::Limited {
            retry_after: RetryAfter::from_duration(Duration::seconds(s)),
        };
        assert_eq!(
            RateDecision::Allowed.and(RateDecision::Allowed),
            RateDecision::Allowed
        );
        assert_eq!(RateDecision::Allowed.and(wait(5)), wait(5));
        assert_eq!(wait(5).and(RateDecision::Allowed), wait(5));
        assert_eq!(wait(5).and(wait(9)), wait(9));
    }

    #[test]
    fn empty_limits_are_refused() {
        let mut limits = RateLimits::default();
        assert!(validate(&limits).is_ok());
        limits.per_ip.max = 0;
        assert!(validate(&limits).is_err());
    }
}
