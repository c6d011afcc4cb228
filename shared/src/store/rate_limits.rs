//! Fixed-window request counters: one item per (scope, key, window), so that no partition takes
//! every write of a limit and an old window is never read again. The TTL deletes a window once
//! it has ended.
//!
//! | item | pk | sk |
//! |---|---|---|
//! | rate window | `RATE#<scope>#<key>#<window start, epoch seconds>` | `RATE` |
//!
//! `<key>` is `email:<canonical email>` or `ip:<source address>`. Attributes: `hits` (requests
//! let through in the window), `ttl` (the window's end).

pub const SK: &str = "RATE";
pub const ENTITY: &str = "rate_window";

/// `scope` and `key` come from `throttle::rate::{RateScope, RateKey}`, which own their text.
pub fn pk(scope: &str, key: &str, window_start_epoch: i64) -> String {
    format!("RATE#{scope}#{key}#{window_start_epoch}")
}

/// Scope, key and window start of a window's partition key. Scopes hold no `#` and the
/// window start is the last field, so a key holding `#` (an email may) is still recovered.
pub fn parse_pk(pk: &str) -> Option<(&str, &str, i64)> {
    let (scope, rest) = super::after(pk, "RATE#")?.split_once('#')?;
    let (key, window) = rest.rsplit_once('#')?;
    let start: i64 = window.parse().ok()?;
    let canonical = start.to_string() == window;
    (canonical && !scope.is_empty() && !key.is_empty()).then_some((scope, key, start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_pinned() {
        assert_eq!(
            pk("password_reset", "email:ann@example.com", 1_764_000_000),
            "RATE#password_reset#email:ann@example.com#1764000000"
        );
        assert_eq!(
            pk("register", "ip:2001:db8::1", 1_764_000_000),
            "RATE#register#ip:2001:db8::1#1764000000"
        );
        assert_eq!(SK, "RATE");
    }
}
