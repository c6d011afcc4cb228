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
    /// The verified SES identity mail is sent from.
    pub mail_sender: String,
    /// Links in mail are built from this alone, never from request headers.
    pub link_base_url: url::Url,
    pub verify_token_ttl: Duration,
    pub reset_token_ttl: Duration,
    /// Registration answers 202 alike for new and taken emails (and mails the owner).
    pub enumeration_safe_registration: bool,
    pub allow_unverified_login: bool,
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
        let flag = |name: &str, default: bool| -> anyhow::Result<bool> {
            match lookup(name).as_deref().map(str::trim) {
                None | Some("") => Ok(default),
                Some("true") => Ok(true),
                Some("false") => Ok(false),
                Some(_) => bail!("{name} must be true or false"),
            }
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
