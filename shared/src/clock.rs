//! Time as the table stores it: RFC 3339 UTC strings with milliseconds (they sort as text) and
//! whole epoch seconds for the TTL attribute.

use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

/// The current instant, truncated to milliseconds so that stored and compared values agree.
pub fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    let millis = now.millisecond();
    now.replace_millisecond(millis).unwrap_or(now)
}

/// `2026-12-04T13:25:55.123Z`: fixed width, so lexical order is time order.
pub fn rfc3339(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    )
}

/// Parses what [`rfc3339`] wrote (or any RFC 3339 instant).
pub fn parse_rfc3339(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

/// `2026-12-04`: the day partition of time-ordered indexes.
pub fn day(at: OffsetDateTime) -> String {
    rfc3339(at)[..10].to_owned()
}

/// `2026-12`: the month partition of low-volume indexes.
pub fn month(at: OffsetDateTime) -> String {
    rfc3339(at)[..7].to_owned()
}

pub fn epoch_seconds(at: OffsetDateTime) -> i64 {
    at.unix_timestamp()
}

pub fn epoch_millis(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

pub fn seconds(count: i64) -> Duration {
    Duration::seconds(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn timestamps_have_fixed_width_and_millisecond_precision() {
        let at = datetime!(2026-01-02 03:04:05.006 UTC);
        assert_eq!(rfc3339(at), "2026-01-02T03:04:05.006Z");
        assert_eq!(day(at), "2026-01-02");
        assert_eq!(month(at), "2026-01");
    }

    #[test]
    fn written_timestamps_parse_back_to_the_same_instant() {
        let at = datetime!(2026-12-04 13:25:55.123 UTC);
        assert_eq!(parse_rfc3339(&rfc3339(at)), Some(at));
    }

    #[test]
    fn now_carries_no_sub_millisecond_part() {
        assert_eq!(now().nanosecond() % 1_000_000, 0);
    }
}
