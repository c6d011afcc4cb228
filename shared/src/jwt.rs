//! Access tokens: HS256 JWTs with header `typ: at+jwt` and `kid` naming the signing key. One
//! verifier for every function: HS256 only, fixed issuer, audience and type, exp/nbf/iat
//! required, 5 s of leeway, typed claims (a string `exp` is a rejection, not a coercion).

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::keyring::{KeyRing, KeysUnavailable, SigningKey};
use crate::store::users::{Role, UserId};

pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";
pub const LEEWAY_SECONDS: u64 = 5;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    /// The user id; every route that acts on a user takes it from here.
    pub sub: UserId,
    pub role: Role,
    /// The session (refresh family) the token was minted in.
    pub sid: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
    /// The user's token version when the token was minted; a higher version on the user item
    /// revokes it.
    pub tv: u64,
    pub email_verified: bool,
}

/// Who a new access token is for.
#[derive(Debug, Clone)]
pub struct Subject {
    pub user: UserId,
    pub role: Role,
    pub session: String,
    pub token_version: u64,
    pub email_verified: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("token is malformed, expired, or not ours")]
    Invalid,
    #[error(transparent)]
    KeysUnavailable(#[from] KeysUnavailable),
}

#[derive(Debug, Clone)]
pub struct TokenPolicy {
    pub issuer: String,
    pub audience: String,
    pub lifetime: Duration,
}

impl TokenPolicy {
    pub fn issue(
        &self,
        subject: &Subject,
        key: &SigningKey,
        now: OffsetDateTime,
    ) -> anyhow::Result<(String, AccessClaims)> {
        let issued = now.unix_timestamp();
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: subject.user.clone(),
            role: subject.role,
            sid: subject.session.clone(),
            iat: issued,
            nbf: issued,
            exp: issued + self.lifetime.whole_seconds(),
            jti: uuid::Uuid::new_v4().to_string(),
            tv: subject.token_version,
            email_verified: subject.email_verified,
        };
        let header = Header {
            typ: Some(ACCESS_TOKEN_TYPE.to_owned()),
            kid: Some(key.kid.clone()),
            ..Header::new(Algorithm::HS256)
        };
        let token = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(key.bytes()))
            .map_err(|e| anyhow::anyhow!("sign access token: {e}"))?;
        Ok((token, claims))
    }

    /// Verifies with the key the header names, fetched from the key ring.
    pub async fn verify(&self, token: &str, keys: &KeyRing) -> Result<AccessClaims, Rejection> {
        let kid = self.checked_kid(token)?;
        let key = keys.key_for(&kid).await?.ok_or(Rejection::Invalid)?;
        self.verify_with(token, &key)
    }

    /// The header checks that come before any key lookup. A `crit` header is refused: this
    /// verifier understands no extension (RFC 7515 section 4.1.11).
    pub fn checked_kid(&self, token: &str) -> Result<String, Rejection> {
        if declares_critical_extensions(token) {
            return Err(Rejection::Invalid);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| Rejection::Invalid)?;
        let typed = header
            .typ
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case(ACCESS_TOKEN_TYPE));
        match (header.alg, typed, header.kid) {
            (Algorithm::HS256, true, Some(kid)) if !kid.is_empty() => Ok(kid),
            _ => Err(Rejection::Invalid),
        }
    }

    pub fn verify_with(&self, token: &str, key: &SigningKey) -> Result<AccessClaims, Rejection> {
        if self.checked_kid(token)? != key.kid {
            return Err(Rejection::Invalid);
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        let claims = jsonwebtoken::decode::<AccessClaims>(
            token,
            &DecodingKey::from_secret(key.bytes()),
            &validation,
        )
        .map(|data| data.claims)
        .map_err(|_| Rejection::Invalid)?;
        self.check_times(&claims)?;
        Ok(claims)
    }

    /// Issued no later than now (with the leeway) and living no longer than we issue for.
    fn check_times(&self, claims: &AccessClaims) -> Result<(), Rejection> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let leeway = i64::try_from(LEEWAY_SECONDS).unwrap_or(5);
        let issued_in_past = claims.iat <= now + leeway;
        let lifetime_ok = claims.exp - claims.iat <= self.lifetime.whole_seconds();
        if issued_in_past && lifetime_ok {
            Ok(())
        } else {
            Err(Rejection::Invalid)
        }
    }
}

fn declares_critical_extensions(token: &str) -> bool {
    use base64::Engine as _;
    let Some(encoded) = token.split('.').next() else {
        return true;
    };
    let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(encoded) else {
        return true;
    };
    match serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&bytes) {
        Ok(header) => header.contains_key("crit"),
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests;
