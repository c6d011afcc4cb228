//! JWT signing keys from Secrets Manager: the secret's AWSCURRENT version signs, AWSCURRENT and
//! AWSPREVIOUS verify (so a rotation logs nobody out), AWSPENDING is never read. Keys are cached
//! per container; an unknown kid triggers at most one refetch per [`REFETCH_INTERVAL`].

use anyhow::{bail, Context};
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use secrecy::{ExposeSecret, SecretSlice};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

pub const CACHE_TTL: Duration = Duration::from_secs(300);
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(30);
const MIN_KEY_BYTES: usize = 32;

/// One version of the secret: the kid is the Secrets Manager version id.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    secret: Arc<SecretSlice<u8>>,
}

impl SigningKey {
    pub fn new(kid: impl Into<String>, secret: Vec<u8>) -> anyhow::Result<Self> {
        if secret.len() < MIN_KEY_BYTES {
            bail!("signing key shorter than {MIN_KEY_BYTES} bytes");
        }
        Ok(Self {
            kid: kid.into(),
            secret: Arc::new(SecretSlice::from(secret)),
        })
    }

    pub fn bytes(&self) -> &[u8] {
        self.secret.expose_secret()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
pub struct KeySet {
    pub current: SigningKey,
    pub previous: Option<SigningKey>,
}

impl KeySet {
    pub fn find(&self, kid: &str) -> Option<&SigningKey> {
        std::iter::once(&self.current)
            .chain(self.previous.as_ref())
            .find(|key| key.kid == kid)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no signing key could be loaded")]
pub struct KeysUnavailable;

#[derive(Debug, Default)]
struct Cache {
    keys: Option<KeySet>,
    fetched_at: Option<Instant>,
    forced_at: Option<Instant>,
}

#[derive(Debug)]
pub struct KeyRing {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
    cache: Mutex<Cache>,
}

impl KeyRing {
    pub fn new(client: aws_sdk_secretsmanager::Client, secret_id: impl Into<String>) -> Self {
        Self {
            client,
            secret_id: secret_id.into(),
            cache: Mutex::new(Cache::default()),
        }
    }

    /// The keys, from the cache while it is fresh. A failed fetch keeps serving a cached set
    /// however old; with nothing cached it is [`KeysUnavailable`].
    pub async fn keys(&self) -> Result<KeySet, KeysUnavailable> {
        let mut cache = self.cache.lock().await;
        let fresh = cache.fetched_at.is_some_and(|at| at.elapsed() < CACHE_TTL);
        match (&cache.keys, fresh) {
            (Some(keys), true) => Ok(keys.clone()),
            _ => self.refill(&mut cache).await,
        }
    }

    /// The key named `kid`, refetching once if it is not among the cached ones (a rotation
    /// may have happened since), but not more than once per [`REFETCH_INTERVAL`], so tokens
    /// with made-up kids cannot hammer Secrets Manager.
    pub async fn key_for(&self, kid: &str) -> Result<Option<SigningKey>, KeysUnavailable> {
        let keys = self.keys().await?;
        if let Some(key) = keys.find(kid) {
            return Ok(Some(key.clone()));
        }
        let mut cache = self.cache.lock().await;
        if cache
            .forced_at
            .is_some_and(|at| at.elapsed() < REFETCH_INTERVAL)
        {
            return Ok(None);
        }
        cache.forced_at = Some(Instant::now());
        let keys = self.refill(&mut cache).await?;
        Ok(keys.find(kid).cloned())
    }

    async fn refill(&self, cache: &mut Cache) -> Result<KeySet, KeysUnavailable> {
        match self.fetch().await {
            Ok(keys) => {
                cache.keys = Some(keys.clone());
                cache.fetched_at = Some(Instant::now());
                Ok(keys)
            }
            Err(error) => {
                tracing::error!(
                    error = format!("{error:#}"),
                    "signing keys could not be fetched"
                );
                cache.keys.clone().ok_or(KeysUnavailable)
            }
        }
    }

    async fn fetch(&self) -> anyhow::Result<KeySet> {
        let current = self
            .version("AWSCURRENT")
            .await?
            .context("secret has no AWSCURRENT")?;
        let previous = self.version("AWSPREVIOUS").await?;
        Ok(KeySet { current, previous })
    }

    async fn version(&self, stage: &str) -> anyhow::Result<Option<SigningKey>> {
        let result = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .version_stage(stage)
            .send()
            .await;
        let output = match result {
            Ok(output) => output,
            Err(error) if is_not_found(&error) => return Ok(None),
            Err(error) => {
                let message = aws_sdk_secretsmanager::error::DisplayErrorContext(&error);
                bail!("get secret value {stage}: {message}");
            }
        };
        let kid = output
            .version_id()
            .context("secret version without id")?
            .to_owned();
        let text = output.secret_string().context("secret holds no string")?;
        SigningKey::new(kid, text.as_bytes().to_vec()).map(Some)
    }
}

fn is_not_found<R>(
    error: &aws_sdk_secretsmanager::error::SdkError<GetSecretValueError, R>,
) -> bool {
    matches!(
        error.as_service_error(),
        Some(GetSecretValueError::ResourceNotFoundException(_))
    )
}
