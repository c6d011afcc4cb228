//! Failed logins counted per canonical email, whether or not an account has that address (the
//! rules, with their defaults, are in the README under "Brute-force throttling"):
//!
//! - after `free_failures` consecutive failures each further one starts a wait, `base_wait`
//!   after the first of them, doubling with each failure, at most `max_wait`;
//! - during a wait, and once `lockout_failures` is reached, login is refused before the password
//!   is checked, and the refused attempt is not counted;
//! - a success clears the count ([`clear_unless_throttled`], inside the success transaction),
//!   so does a password reset ([`clear`]); a lockout lasts until then; an unlocked count is
//!   forgotten `memory` after its last failure.
//!
//! Counting is optimistic concurrency on the one item: each failure is written on condition
//! that the item is still as read, together with its audit entries. A failure that loses the
//! race reads the new state and either counts on top of it or, if a wait began meanwhile, is
//! refused like an attempt that came later. So N concurrent failures from a clean state are
//! counted exactly `free_failures` times and the rest are refused (tested in
//! `tests/tests/throttle.rs`).

use anyhow::{anyhow, Context};
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use time::{Duration, OffsetDateTime};

use super::RetryAfter;
use crate::audit::{AuditEntry, AuditEvent};
use crate::clock;
use crate::db::{self, TransactError};
use crate::email::Email;
use crate::request_meta::RequestMeta;
use crate::state::AppState;
use crate::store::login_failures::{self, LoginFailuresItem};
use crate::store::users::UserId;
use crate::store::Item;

/// How often one failure re-reads and retries after losing a race before it gives up and is
/// refused for a second: every lost round means another failure was counted, so a wait begins
/// within `free_failures` rounds unless waits are shorter than the round trips.
const MAX_ROUNDS: u32 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginThrottlePolicy {
    /// Consecutive failures allowed before the first wait.
    pub free_failures: u32,
    /// The wait after failure number `free_failures`.
    pub base_wait: Duration,
    pub max_wait: Duration,
    /// At this many consecutive failures login is refused until a password reset.
    pub lockout_failures: u32,
    /// An unlocked count is forgotten this long after its last failure.
    pub memory: Duration,
}

impl Default for LoginThrottlePolicy {
    fn default() -> Self {
        Self {
            free_failures: 5,
            base_wait: Duration::seconds(60),
            max_wait: Duration::minutes(15),
            lockout_failures: 100,
            memory: Duration::days(30),
        }
    }
}

impl LoginThrottlePolicy {
    /// The wait that consecutive failure number `failures` starts, if it starts one.
    pub fn wait_after(&self, failures: u32) -> Option<Duration> {
        let doublings = failures.checked_sub(self.free_failures)?;
        let factor = 2_i32.saturating_pow(doublings);
        Some(self.base_wait.saturating_mul(factor).min(self.max_wait))
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if self.free_failures == 0 || self.lockout_failures <= self.free_failures {
            anyhow::bail!("the lockout threshold must exceed the free failures, both positive");
        }
        if self.base_wait > self.max_wait {
            anyhow::bail!("the base login wait exceeds the maximum wait");
        }
        if self.memory <= self.max_wait {
            anyhow::bail!("failed logins must be remembered longer than the longest wait");
        }
        Ok(())
    }
}

/// What the next login of an email meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Open,
    Wait(RetryAfter),
    LockedOut,
}

/// An email's failed logins as read from the table (none when no item exists).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FailureRecord(Option<LoginFailuresItem>);

impl FailureRecord {
    pub fn from_item(item: Option<Item>) -> anyhow::Result<Self> {
        let parsed = item.map(db::from_item::<LoginFailuresItem>).transpose();
        Ok(Self(parsed.context("read the failed-login count")?))
    }

    /// Consecutive failures that still count at `now`.
    pub fn failures(&self, policy: &LoginThrottlePolicy, now: OffsetDateTime) -> u32 {
        match &self.0 {
            Some(item) if item.locked_out || !forgotten(item, policy, now) => item.failures,
            _ => 0,
        }
    }

    pub fn verdict(&self, now: OffsetDateTime) -> Verdict {
        let Some(item) = &self.0 else {
            return Verdict::Open;
        };
        let now_ms = clock::epoch_millis(now);
        if item.locked_out {
            Verdict::LockedOut
        } else if now_ms < item.blocked_until_ms {
            let wait = Duration::milliseconds(item.blocked_until_ms - now_ms);
            Verdict::Wait(RetryAfter::from_duration(wait))
        } else {
            Verdict::Open
        }
    }
}

fn forgotten(item: &LoginFailuresItem, policy: &LoginThrottlePolicy, now: OffsetDateTime) -> bool {
    let memory_ms = i64::try_from(policy.memory.whole_milliseconds()).unwrap_or(i64::MAX);
    item.last_failure_ms.saturating_add(memory_ms) <= clock::epoch_millis(now)
}

/// Whom an attempt was for. `user` is None for an unknown email: entries about it then carry
/// neither a user nor the address.
#[derive(Debug, Clone, Copy)]
pub struct LoginTarget<'a> {
    pub email: &'a Email,
    pub user: Option<&'a UserId>,
    pub meta: &'a RequestMeta,
}

/// What counting one failed attempt did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureOutcome {
    /// Counted: the attempt's own answer stands (a wrong password stays a 401); `verdict` is
    /// what the next attempt meets.
    Counted { failures: u32, verdict: Verdict },
    /// Not counted: failures of concurrent attempts put a wait or a lockout in force first, so
    /// this attempt is refused (and audited) like one that came after them.
    Refused(Verdict),
}

/// The strongly consistent read of an email's count, for flows that have not read it with
/// other items (login reads it in its BatchGetItem, see [`login_failures::key`]).
pub async fn load(state: &AppState, email: &Email) -> anyhow::Result<FailureRecord> {
    let item: Option<LoginFailuresItem> =
        db::get(&state.dynamo, state.table(), login_failures::key(email))
            .await
            .context("read the failed-login count")?;
    Ok(FailureRecord(item))
}

/// The verdict of `seen` at `now`; a refusal is audited (`login_throttled`) before it returns.
pub async fn check(
    state: &AppState,
    target: LoginTarget<'_>,
    seen: &FailureRecord,
    now: OffsetDateTime,
) -> Verdict {
    let verdict = seen.verdict(now);
    if verdict != Verdict::Open {
        audit_refusal(state, target, verdict, now).await;
    }
    verdict
}

/// Counts one failed attempt with its audit entry `failure`, atomically (see the module
/// comment), adding a `login_throttle_started` or `login_locked_out` entry when this failure
/// starts a wait or the lockout.
pub async fn record_failure(
    state: &AppState,
    target: LoginTarget<'_>,
    mut seen: FailureRecord,
    failure: AuditEntry,
) -> anyhow::Result<FailureOutcome> {
    let policy = &state.settings.login_throttle;
    for _ in 0..MAX_ROUNDS {
        let now = clock::now();
        let verdict = seen.verdict(now);
        if verdict != Verdict::Open {
            audit_refusal(state, target, verdict, now).await;
            return Ok(FailureOutcome::Refused(verdict));
        }
        let next = Next::after(&seen, policy, now);
        let items = failure_items(state, target, &seen, &next, failure.clone(), now)?;
        match db::transact(&state.dynamo, items).await {
            Ok(()) => return Ok(next.counted(target, now)),
            Err(error) if error.condition_failed_at(0) => {
                seen = FailureRecord::from_item(error.item_at(0).cloned())?;
            }
            Err(TransactError::Cancelled(reasons)) => {
                return Err(anyhow!("failed-login count cancelled: {reasons:?}"));
            }
            Err(TransactError::Unexpected(error)) => {
                return Err(error.context("count a failed login"));
            }
        }
    }
    let verdict = Verdict::Wait(RetryAfter::from_duration(Duration::seconds(1)));
    audit_refusal(state, target, verdict, clock::now()).await;
    Ok(FailureOutcome::Refused(verdict))
}

/// Deletes the count unconditionally: for the transaction that resets the password (which
/// proves the address), and for one that registers the address anew.
pub fn clear(table: &str, email: &Email) -> anyhow::Result<TransactWriteItem> {
    let delete = Delete::builder()
        .table_name(table)
        .set_key(Some(login_failures::key(email)))
        .build()
        .context("build the failed-login reset")?;
    Ok(TransactWriteItem::builder().delete(delete).build())
}

/// Deletes the count on condition that no wait or lockout is in force at `now`: for the
/// transaction of a successful login, so that a right password racing the failure that starts
/// a wait does not get through. When this item's condition fails, [`refusal_in`] tells why.
pub fn clear_unless_throttled(
    table: &str,
    email: &Email,
    now: OffsetDateTime,
) -> anyhow::Result<TransactWriteItem> {
    let delete = Delete::builder()
        .table_name(table)
        .set_key(Some(login_failures::key(email)))
        .condition_expression("attribute_not_exists(pk) OR (#locked = :no AND #until <= :now)")
        .expression_attribute_names("#locked", "locked_out")
        .expression_attribute_names("#until", "blocked_until_ms")
        .expression_attribute_values(":no", AttributeValue::Bool(false))
        .expression_attribute_values(":now", number(clock::epoch_millis(now)))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .build()
        .context("build the failed-login clearing")?;
    Ok(TransactWriteItem::builder().delete(delete).build())
}

/// The verdict that cancelled a transaction whose item at `index` is a
/// [`clear_unless_throttled`]; None when that item is not what failed.
pub fn refusal_in(error: &TransactError, index: usize, now: OffsetDateTime) -> Option<Verdict> {
    if !error.condition_failed_at(index) {
        return None;
    }
    let seen = FailureRecord::from_item(error.item_at(index).cloned()).ok()?;
    Some(seen.verdict(now)).filter(|verdict| *verdict != Verdict::Open)
}

/// Audits a refused attempt (`login_throttled`). The refusal stands even if the entry cannot
/// be written, so a failed write is logged, not returned.
pub async fn audit_refusal(
    state: &AppState,
    target: LoginTarget<'_>,
    verdict: Verdict,
    now: OffsetDateTime,
) {
    let entry = match verdict {
        Verdict::Open => return,
        Verdict::Wait(retry_after) => {
            AuditEntry::failure(AuditEvent::LoginThrottled, "waiting after failed logins")
                .detail("retry_after_seconds", retry_after.seconds())
        }
        Verdict::LockedOut => AuditEntry::failure(
            AuditEvent::LoginThrottled,
            "locked out until password reset",
        ),
    };
    let item =
        entry
            .maybe_user(target.user)
            .into_item(target.meta, now, state.settings.audit_retention);
    tracing::info!(
        user_id = target.user.map(UserId::as_str),
        event = "login_throttled",
        locked_out = verdict == Verdict::LockedOut,
        "login refused while throttled"
    );
    if let Err(error) = db::put_one(&state.dynamo, state.table(), &item).await {
        tracing::error!(error = format!("{error:#}"), "throttled login not audited");
    }
}

/// The state one more failure writes.
#[derive(Debug)]
struct Next {
    failures: u32,
    wait: Option<Duration>,
    locked_out: bool,
}

impl Next {
    fn after(seen: &FailureRecord, policy: &LoginThrottlePolicy, now: OffsetDateTime) -> Self {
        let failures = seen.failures(policy, now).saturating_add(1);
        let locked_out = failures >= policy.lockout_failures;
        Self {
            failures,
            wait: policy.wait_after(failures).filter(|_| !locked_out),
            locked_out,
        }
    }

    fn verdict(&self) -> Verdict {
        match self.wait {
            _ if self.locked_out => Verdict::LockedOut,
            Some(wait) => Verdict::Wait(RetryAfter::from_duration(wait)),
            None => Verdict::Open,
        }
    }

    fn counted(&self, target: LoginTarget<'_>, now: OffsetDateTime) -> FailureOutcome {
        let verdict = self.verdict();
        tracing::info!(
            user_id = target.user.map(UserId::as_str),
            event = "login_failure_counted",
            failures = self.failures,
            throttled = verdict != Verdict::Open,
            at = %clock::rfc3339(now),
            "failed login counted"
        );
        FailureOutcome::Counted {
            failures: self.failures,
            verdict,
        }
    }

    /// The audit entry of the throttle decision this failure makes, if it makes one (the
    /// failure count is added to every entry of the transaction).
    fn decision(&self) -> Option<AuditEntry> {
        if self.locked_out {
            return Some(AuditEntry::failure(
                AuditEvent::LoginLockedOut,
                "lockout threshold reached",
            ));
        }
        let wait = self.wait?;
        Some(
            AuditEntry::failure(
                AuditEvent::LoginThrottleStarted,
                "consecutive failed logins",
            )
            .detail("wait_seconds", RetryAfter::from_duration(wait).seconds()),
        )
    }
}

fn failure_items(
    state: &AppState,
    target: LoginTarget<'_>,
    seen: &FailureRecord,
    next: &Next,
    failure: AuditEntry,
    now: OffsetDateTime,
) -> anyhow::Result<Vec<TransactWriteItem>> {
    let table = state.table();
    let retention = state.settings.audit_retention;
    let policy = &state.settings.login_throttle;
    let entry = |entry: AuditEntry| {
        let item = entry
            .maybe_user(target.user)
            .detail("failures", next.failures)
            .into_item(target.meta, now, retention);
        db::put_new(table, &item)
    };
    let mut items = vec![count_update(table, target.email, seen, next, policy, now)?];
    items.push(entry(failure)?);
    if let Some(decision) = next.decision() {
        items.push(entry(decision)?);
    }
    Ok(items)
}

/// Writes `next` on condition that the item is still `seen` (absent, or the same count and
/// last failure).
fn count_update(
    table: &str,
    email: &Email,
    seen: &FailureRecord,
    next: &Next,
    policy: &LoginThrottlePolicy,
    now: OffsetDateTime,
) -> anyhow::Result<TransactWriteItem> {
    let now_ms = clock::epoch_millis(now);
    let blocked_until = next
        .wait
        .map_or(now_ms, |wait| clock::epoch_millis(now + wait));
    let set = "SET #failures = :failures, #last = :now, #until = :until, #locked = :locked, \
               #entity = :entity";
    let mut update = Update::builder()
        .table_name(table)
        .set_key(Some(login_failures::key(email)))
        .expression_attribute_names("#failures", "failures")
        .expression_attribute_names("#last", "last_failure_ms")
        .expression_attribute_names("#until", "blocked_until_ms")
        .expression_attribute_names("#locked", "locked_out")
        .expression_attribute_names("#entity", "entity")
        .expression_attribute_names("#ttl", crate::store::TTL)
        .expression_attribute_values(":failures", number(next.failures))
        .expression_attribute_values(":now", number(now_ms))
        .expression_attribute_values(":until", number(blocked_until))
        .expression_attribute_values(":locked", AttributeValue::Bool(next.locked_out))
        .expression_attribute_values(":entity", AttributeValue::S(login_failures::ENTITY.into()))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
    update = if next.locked_out {
        update.update_expression(format!("{set} REMOVE #ttl"))
    } else {
        let expires = clock::epoch_seconds(now + policy.memory);
        update
            .update_expression(format!("{set}, #ttl = :ttl"))
            .expression_attribute_values(":ttl", number(expires))
    };
    update = match &seen.0 {
        None => update.condition_expression("attribute_not_exists(pk)"),
        Some(item) => update
            .condition_expression("#failures = :seen_failures AND #last = :seen_last")
            .expression_attribute_values(":seen_failures", number(item.failures))
            .expression_attribute_values(":seen_last", number(item.last_failure_ms)),
    };
    let update = update.build().context("build the failed-login count")?;
    Ok(TransactWriteItem::builder().update(update).build())
}

fn number(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-12-04 10:00:00 UTC);

    fn record(failures: u32, last: OffsetDateTime, until: OffsetDateTime, locked: bool) -> Item {
        let item = LoginFailuresItem {
            pk: "EMAIL#a@example.com".into(),
            sk: login_failures::SK.into(),
            entity: login_failures::ENTITY.into(),
            failures,
            last_failure_ms: clock::epoch_millis(last),
            blocked_until_ms: clock::epoch_millis(until),
            locked_out: locked,
            ttl: None,
        };
        db::to_item(&item).expect("item")
    }

    fn parsed(item: Item) -> FailureRecord {
        FailureRecord::from_item(Some(item)).expect("record")
    }

    #[test]
    fn waits_begin_at_the_fifth_failure_double_and_stop_at_fifteen_minutes() {
        let policy = LoginThrottlePolicy::default();
        let waits: Vec<_> = (1..=12)
            .map(|n| policy.wait_after(n).map(|w| w.whole_seconds()))
            .collect();
        let expected = [
            None,
            None,
            None,
            None,
            Some(60),
            Some(120),
            Some(240),
            Some(480),
        ];
        assert_eq!(waits[..8], expected);
        assert_eq!(waits[8..], [Some(900); 4]);
        assert_eq!(policy.wait_after(u32::MAX), Some(Duration::minutes(15)));
    }

    #[test]
    fn the_next_failure_counts_up_and_locks_out_at_the_threshold() {
        let policy = LoginThrottlePolicy::default();
        let at = |failures| parsed(record(failures, NOW, NOW, false));
        let fourth = Next::after(&at(3), &policy, NOW);
        assert_eq!((fourth.failures, fourth.verdict()), (4, Verdict::Open));
        let fifth = Next::after(&at(4), &policy, NOW);
        let minute = Verdict::Wait(RetryAfter::from_duration(Duration::seconds(60)));
        assert_eq!((fifth.failures, fifth.verdict()), (5, minute));
        let hundredth = Next::after(&at(99), &policy, NOW);
        assert_eq!(hundredth.verdict(), Verdict::LockedOut);
        assert_eq!(hundredth.wait, None);
    }

    #[test]
    fn a_count_thirty_days_old_is_forgotten_unless_locked_out() {
        let policy = LoginThrottlePolicy::default();
        let old = NOW - Duration::days(30);
        assert_eq!(parsed(record(7, old, old, false)).failures(&policy, NOW), 0);
        let recent = old + Duration::seconds(1);
        assert_eq!(
            parsed(record(7, recent, recent, false)).failures(&policy, NOW),
            7
        );
        let locked = parsed(record(100, old, old, true));
        assert_eq!(locked.failures(&policy, NOW), 100);
        assert_eq!(locked.verdict(NOW), Verdict::LockedOut);
    }

    #[test]
    fn the_verdict_waits_until_the_stored_instant_and_no_longer() {
        let until = NOW + Duration::milliseconds(61_500);
        let waiting = parsed(record(5, NOW, until, false));
        let expected = RetryAfter::from_duration(Duration::seconds(62));
        assert_eq!(waiting.verdict(NOW), Verdict::Wait(expected));
        assert_eq!(waiting.verdict(until), Verdict::Open);
        assert_eq!(FailureRecord::default().verdict(NOW), Verdict::Open);
    }

    #[test]
    fn inconsistent_policies_are_refused() {
        let valid = LoginThrottlePolicy::default();
        assert!(valid.validate().is_ok());
        let lockout_too_low = LoginThrottlePolicy {
            lockout_failures: 5,
            ..valid
        };
        let base_over_max = LoginThrottlePolicy {
            base_wait: Duration::hours(1),
            ..valid
        };
        let memory_too_short = LoginThrottlePolicy {
            memory: Duration::minutes(10),
            ..valid
        };
        for policy in [lockout_too_low, base_over_max, memory_too_short] {
            assert!(policy.validate().is_err(), "{policy:?}");
        }
    }
}
