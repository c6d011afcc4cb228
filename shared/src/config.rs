//! Settings read once per cold start from the environment `template.yaml` sets.

use anyhow::{bail, Context};
use time::Duration;

use crate::throttle::login::LoginThrottlePolicy;
use crate::throttle::rate::{self, RateLimit, RateLimits};

#[derive(Debug, Clone)]
pub struct Settings {
    pub table_name: String,
    /// Name or ARN of the Secrets Manager secret whose versions are the JWT signing keys.
    pub signing_secret_id: String,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub access_token_ttl: Duration,
    /// A refresh token unused for this long expires.
    pub refresh_idle_ttl: Duration,
    /// A session (refresh family) ends this long after its login, however active.
    pub refresh_absolute_ttl: Duration,
    /// A rotated refresh token presented again within this window yields a fresh pair instead of
    /// revoking its family, so that two tabs refreshing at once both stay signed in.
    pub refresh_grace: Duration,
    pub audit_retention: Duration,
    /// Sale and payout entries of a deleted developer are kept, pseudonymised, this long.
    pub financial_retention: Duration,
    /// How long `DELETE /users/me` purges before it leaves the rest to the scheduled purge.
    pub deletion_budget: std::time::Duration,
    /// The verified SES identity mail is sent from.
    pub mail_sender: String,
    /// Links in mail are built from this alone, never from request headers.
    pub link_base_url: url::Url,
    pub verify_token_ttl: Duration,
    pub reset_token_ttl: Duration,
    /// Registration answers 202 alike for new and taken emails (and mails the owner).
    pub enumeration_safe_registration: bool,
    pub allow_unverified_login: bool,
    /// Failed logins per email: waits and lockout (README, "Brute-force throttling").
    pub login_throttle: LoginThrottlePolicy,
    /// Request limits per email and per source IP, for the flows that apply them.
    pub rate_limits: RateLimits,
}

impl Settings {
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let text = |name: &str| -> anyhow::Result<String> {
            match lookup(name) {
                Some(value) if !value.trim().is_empty() => Ok(value),
                _ => bail!("environment variable {name} is not set"),
            }
        };
        let whole = |name: &str, default: i64| -> anyhow::Result<i64> {
            let value = match lookup(name) {
                Some(raw) => raw
                    .trim()
                    .parse::<i64>()
                    .with_context(|| format!("{name} is not a whole number"))?,
                None => default,
            };
            if value <= 0 {
                bail!("{name} must be positive");
            }
            Ok(value)
        };
        let seconds = |name: &str, default: i64| -> anyhow::Result<Duration> {
            Ok(Duration::seconds(whole(name, default)?))
        };
        let flag = |name: &str, default: bool| -> anyhow::Result<bool> {
            match lookup(name).as_deref().map(str::trim) {
                None | Some("") => Ok(default),
                Some("true") => Ok(true),
                Some("false") => Ok(false),
                Some(_) => bail!("{name} must be true or false"),
            }
        };
        let count = |name: &str, default: u32| -> anyhow::Result<u32> {
            let value = whole(name, i64::from(default))?;
            u32::try_from(value).with_context(|| format!("{name} is too large"))
        };
        let settings = Self {
            table_name: text("TABLE_NAME")?,
            signing_secret_id: text("SIGNING_SECRET_ARN")?,
            jwt_issuer: lookup("JWT_ISSUER").unwrap_or_else(|| "capecontrol-auth".to_owned()),
            jwt_audience: lookup("JWT_AUDIENCE").unwrap_or_else(|| "capecontrol-api".to_owned()),
            access_token_ttl: seconds("ACCESS_TOKEN_TTL_SECONDS", 900)?,
            refresh_idle_ttl: seconds("REFRESH_IDLE_TTL_SECONDS", 30 * 86_400)?,
            refresh_absolute_ttl: seconds("REFRESH_ABSOLUTE_TTL_SECONDS", 90 * 86_400)?,
            refresh_grace: seconds("REFRESH_GRACE_SECONDS", 10)?,
            audit_retention: Duration::days(seconds("AUDIT_RETENTION_DAYS", 365)?.whole_seconds()),
            financial_retention: Duration::days(
                seconds("FINANCIAL_RETENTION_DAYS", 2_557)?.whole_seconds(),
            ),
            deletion_budget: std::time::Duration::from_secs(4),
            mail_sender: lookup("MAIL_SENDER")
                .unwrap_or_else(|| "no-reply@capecontrol.example".to_owned()),
            link_base_url: lookup("LINK_BASE_URL")
                .unwrap_or_else(|| "https://app.capecontrol.example".to_owned())
                .parse()
                .context("LINK_BASE_URL is not a URL")?,
            verify_token_ttl: seconds("VERIFY_TOKEN_TTL_SECONDS", 86_400)?,
            reset_token_ttl: seconds("RESET_TOKEN_TTL_SECONDS", 1_800)?,
            enumeration_safe_registration: flag("ENUMERATION_SAFE_REGISTRATION", true)?,
            allow_unverified_login: flag("ALLOW_UNVERIFIED_LOGIN", true)?,
            login_throttle: login_throttle(&seconds, &count)?,
            rate_limits: rate_limits(&seconds, &count)?,
        };
        if settings.refresh_idle_ttl > settings.refresh_absolute_ttl {
            bail!("REFRESH_IDLE_TTL_SECONDS exceeds REFRESH_ABSOLUTE_TTL_SECONDS");
        }
        if !is_safe_link_base(&settings.link_base_url) {
            bail!("LINK_BASE_URL must be https (or http on 127.0.0.1) without query or fragment");
        }
        Ok(settings)
    }
}

/// https anywhere, plain http only on the loopback address of a local stack.
fn is_safe_link_base(url: &url::Url) -> bool {
    let loopback = url.host_str() == Some("127.0.0.1") || url.host_str() == Some("localhost");
    let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && loopback);
    scheme_ok && url.query().is_none() && url.fragment().is_none() && url.has_host()
}

/// The readers `from_lookup` builds: a positive number of seconds, a positive count.
type Seconds<'a> = &'a dyn Fn(&str, i64) -> anyhow::Result<Duration>;
type Count<'a> = &'a dyn Fn(&str, u32) -> anyhow::Result<u32>;

fn login_throttle(seconds: Seconds<'_>, count: Count<'_>) -> anyhow::Result<LoginThrottlePolicy> {
    let defaults = LoginThrottlePolicy::default();
    let policy = LoginThrottlePolicy {
        free_failures: count("LOGIN_THROTTLE_FREE_FAILURES", defaults.free_failures)?,
        base_wait: seconds_of(seconds, "LOGIN_THROTTLE_BASE_SECONDS", defaults.base_wait)?,
        max_wait: seconds_of(seconds, "LOGIN_THROTTLE_MAX_SECONDS", defaults.max_wait)?,
        lockout_failures: count("LOGIN_LOCKOUT_FAILURES", defaults.lockout_failures)?,
        memory: seconds_of(seconds, "LOGIN_FAILURE_MEMORY_SECONDS", defaults.memory)?,
    };
    policy.validate().context("login throttle settings")?;
    Ok(policy)
}

fn rate_limits(seconds: Seconds<'_>, count: Count<'_>) -> anyhow::Result<RateLimits> {
    let defaults = RateLimits::default();
    let limit = |prefix: &str, default: RateLimit| -> anyhow::Result<RateLimit> {
        Ok(RateLimit {
            max: count(&format!("{prefix}_MAX"), default.max)?,
            window: seconds_of(seconds, &format!("{prefix}_WINDOW_SECONDS"), default.window)?,
        })
    };
    let limits = RateLimits {
        per_email: limit("RATE_LIMIT_EMAIL", defaults.per_email)?,
        per_ip: limit("RATE_LIMIT_IP", defaults.per_ip)?,
    };
    rate::validate(&limits)?;
    Ok(limits)
}

fn seconds_of(seconds: Seconds<'_>, name: &str, default: Duration) -> anyhow::Result<Duration> {
    seconds(name, default.whole_seconds())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn defaults_apply_when_only_the_required_names_are_set() {
        let settings =
            Settings::from_lookup(lookup(&[("TABLE_NAME", "t"), ("SIGNING_SECRET_ARN", "s")]))
                .expect("settings");
        assert_eq!(settings.access_token_ttl, Duration::minutes(15));
        assert_eq!(settings.refresh_idle_ttl, Duration::days(30));
        assert_eq!(settings.refresh_grace, Duration::seconds(10));
        assert_eq!(settings.audit_retention, Duration::days(365));
        assert_eq!(settings.financial_retention, Duration::days(2_557));
    }

    #[test]
    fn throttle_defaults_are_five_free_failures_a_minute_doubling_to_15_minutes_lockout_at_100() {
        let settings =
            Settings::from_lookup(lookup(&[("TABLE_NAME", "t"), ("SIGNING_SECRET_ARN", "s")]))
                .expect("settings");
        let login = settings.login_throttle;
        assert_eq!(login.free_failures, 5);
        assert_eq!(login.base_wait, Duration::minutes(1));
        assert_eq!(login.max_wait, Duration::minutes(15));
        assert_eq!(login.lockout_failures, 100);
        assert_eq!(login.memory, Duration::days(30));
        let limits = settings.rate_limits;
        assert_eq!(
            (limits.per_email.max, limits.per_email.window),
            (3, Duration::minutes(15))
        );
        assert_eq!(
            (limits.per_ip.max, limits.per_ip.window),
            (100, Duration::hours(1))
        );
    }

    #[test]
    fn throttle_settings_are_read_from_the_environment_and_checked() {
        let mut pairs = vec![
            ("TABLE_NAME", "t"),
            ("SIGNING_SECRET_ARN", "s"),
            ("LOGIN_THROTTLE_BASE_SECONDS", "1"),
            ("LOGIN_LOCKOUT_FAILURES", "8"),
            ("RATE_LIMIT_IP_MAX", "1000"),
            ("RATE_LIMIT_EMAIL_WINDOW_SECONDS", "60"),
        ];
        let settings = Settings::from_lookup(lookup(&pairs)).expect("settings");
        assert_eq!(settings.login_throttle.base_wait, Duration::seconds(1));
        assert_eq!(settings.login_throttle.lockout_failures, 8);
        assert_eq!(settings.rate_limits.per_ip.max, 1000);
        assert_eq!(settings.rate_limits.per_email.window, Duration::minutes(1));
        for bad in [
            ("LOGIN_LOCKOUT_FAILURES", "5"),
            ("RATE_LIMIT_EMAIL_MAX", "0"),
        ] {
            pairs.push(bad);
            assert!(
                Settings::from_lookup(lookup(&pairs)).is_err(),
                "{bad:?} accepted"
            );
            pairs.pop();
        }
    }

    #[test]
    fn a_missing_table_name_fails_at_start() {
        let error = Settings::from_lookup(lookup(&[("SIGNING_SECRET_ARN", "s")])).unwrap_err();
        assert!(error.to_string().contains("TABLE_NAME"));
    }

    #[test]
    fn link_bases_must_be_https_except_on_loopback() {
        let base = [("TABLE_NAME", "t"), ("SIGNING_SECRET_ARN", "s")];
        for (url, ok) in [
            ("https://app.example.com", true),
            ("http://127.0.0.1:9000", true),
            ("http://app.example.com", false),
            ("https://app.example.com/?next=x", false),
            ("javascript:alert(1)", false),
        ] {
            let mut pairs = base.to_vec();
            pairs.push(("LINK_BASE_URL", url));
            assert_eq!(Settings::from_lookup(lookup(&pairs)).is_ok(), ok, "{url}");
        }
    }

    #[test]
    fn flags_accept_only_true_or_false() {
        let base = [("TABLE_NAME", "t"), ("SIGNING_SECRET_ARN", "s")];
        let mut pairs = base.to_vec();
        pairs.push(("ENUMERATION_SAFE_REGISTRATION", "false"));
        let settings = Settings::from_lookup(lookup(&pairs)).expect("settings");
        assert!(!settings.enumeration_safe_registration);
        assert!(settings.allow_unverified_login);
        let mut pairs = base.to_vec();
        pairs.push(("ALLOW_UNVERIFIED_LOGIN", "no"));
        assert!(Settings::from_lookup(lookup(&pairs)).is_err());
    }

    #[test]
    fn non_numeric_or_non_positive_durations_are_refused() {
        let base = [("TABLE_NAME", "t"), ("SIGNING_SECRET_ARN", "s")];
        for bad in ["ten", "0", "-5"] {
            let mut pairs = base.to_vec();
            pairs.push(("REFRESH_GRACE_SECONDS", bad));
            assert!(
                Settings::from_lookup(lookup(&pairs)).is_err(),
                "{bad} accepted"
            );
        }
    }
}
