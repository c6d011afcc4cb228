//! Brute-force throttling: failed logins counted per email ([`login`]) and fixed-window request
//! limits per email or source IP ([`rate`]). Both answer with a [`RetryAfter`] when they refuse.

pub mod login;
pub mod rate;

use time::{Duration, OffsetDateTime};

/// Whole seconds until a refused request may be tried again, as the `Retry-After` header says
/// it: rounded up, and at least one, so a client that waits exactly this long is not refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct RetryAfter(u64);

impl RetryAfter {
    pub fn from_duration(wait: Duration) -> Self {
        let millis = u64::try_from(wait.whole_milliseconds()).unwrap_or(0);
        Self(millis.div_ceil(1_000).max(1))
    }

    pub fn until(at: OffsetDateTime, now: OffsetDateTime) -> Self {
        Self::from_duration(at - now)
    }

    pub fn seconds(self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_to_whole_seconds_and_is_never_zero() {
        let of = |ms: i64| RetryAfter::from_duration(Duration::milliseconds(ms)).seconds();
        assert_eq!(of(1), 1);
        assert_eq!(of(1_000), 1);
        assert_eq!(of(1_001), 2);
        assert_eq!(of(59_999), 60);
        assert_eq!(of(0), 1);
        assert_eq!(of(-5_000), 1);
    }
}
