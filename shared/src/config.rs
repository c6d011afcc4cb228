//! Settings read once per cold start from the environment `template.yaml` sets.

use anyhow::{bail, Context};
use time::Duration;

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
        let seconds = |name: &str, default: i64| -> anyhow::Result<Duration> {
            let value = match lookup(name) {
                Some(raw) => raw
                    .trim()
                    .parse::<i64>()
                    .with_context(|| format!("{name} is not a whole number of seconds"))?,
                None => default,
            };
            if value <= 0 {
                bail!("{name} must be positive");
            }
            Ok(Duration::seconds(value))
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
        };
        if settings.refresh_idle_ttl > settings.refresh_absolute_ttl {
            bail!("REFRESH_IDLE_TTL_SECONDS exceeds REFRESH_ABSOLUTE_TTL_SECONDS");
        }
        Ok(settings)
    }
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
    }

    #[test]
    fn a_missing_table_name_fails_at_start() {
        let error = Settings::from_lookup(lookup(&[("SIGNING_SECRET_ARN", "s")])).unwrap_err();
        assert!(error.to_string().contains("TABLE_NAME"));
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
