//! What a function builds once per cold start and shares across invocations.

use anyhow::Context;
use tokio::sync::OnceCell;

use crate::config::Settings;
use crate::jwt::TokenPolicy;
use crate::keyring::KeyRing;
use crate::mail::{Links, Mailer};
use crate::password::{Hasher, PasswordHashString};

#[derive(Debug)]
pub struct AppState {
    pub settings: Settings,
    pub dynamo: aws_sdk_dynamodb::Client,
    pub keys: KeyRing,
    pub tokens: TokenPolicy,
    pub hasher: Hasher,
    pub mailer: Mailer,
    pub links: Links,
    dummy_hash: OnceCell<PasswordHashString>,
}

/// The AWS configuration of a cold start: region and credentials from the Lambda environment,
/// `AWS_ENDPOINT_URL` for the local emulator. The cold-start benchmark's SDK floor calls this
/// too, so that it builds what the functions build.
pub async fn load_aws_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(https_client())
        .load()
        .await
}

/// The HTTP client of every SDK client: hyper with rustls on ring. The SDK's default would be
/// rustls on aws-lc, which makes every binary about 2 MB larger and spends tens of
/// milliseconds of CPU on jitter entropy at the first TLS connection of a cold start. Trust
/// anchors are the system's (`SSL_CERT_FILE` when set: see template.yaml).
pub fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

impl AppState {
    /// Reads the environment and AWS configuration (`AWS_ENDPOINT_URL` points it at the local
    /// emulator); fails at start when configuration is missing.
    pub async fn from_env() -> anyhow::Result<Self> {
        let settings = Settings::from_env().context("read settings")?;
        Ok(Self::new(settings, &load_aws_config().await))
    }

    pub fn new(settings: Settings, aws: &aws_config::SdkConfig) -> Self {
        let dynamo = aws_sdk_dynamodb::Client::new(aws);
        let secrets = aws_sdk_secretsmanager::Client::new(aws);
        let tokens = TokenPolicy {
            issuer: settings.jwt_issuer.clone(),
            audience: settings.jwt_audience.clone(),
            lifetime: settings.access_token_ttl,
        };
        let mailer = Mailer::new(
            aws_sdk_sesv2::Client::new(aws),
            settings.mail_sender.clone(),
        );
        Self {
            keys: KeyRing::new(secrets, settings.signing_secret_id.clone()),
            mailer,
            links: Links::new(settings.link_base_url.clone()),
            dynamo,
            tokens,
            hasher: Hasher::owasp(),
            settings,
            dummy_hash: OnceCell::new(),
        }
    }

    pub fn table(&self) -> &str {
        &self.settings.table_name
    }

    /// The hash an unknown email is verified against, made on first use.
    pub async fn dummy_hash(&self) -> anyhow::Result<PasswordHashString> {
        self.dummy_hash
            .get_or_try_init(|| self.hasher.dummy_hash())
            .await
            .cloned()
    }
}
