//! Opaque bearer secrets (refresh tokens, later reset and verification tokens): 256 bits from
//! the OS random source, sent as base64url, stored only as their SHA-256.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use std::fmt;

const TOKEN_BYTES: usize = 32;

/// A freshly minted or presented token. Only [`OpaqueToken::hash`] may reach storage.
pub struct OpaqueToken(SecretString);

impl OpaqueToken {
    pub fn generate() -> anyhow::Result<Self> {
        let mut bytes = [0_u8; TOKEN_BYTES];
        getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("OS random source: {e}"))?;
        Ok(Self(SecretString::from(URL_SAFE_NO_PAD.encode(bytes))))
    }

    /// Accepts only what [`OpaqueToken::generate`] can produce, so garbage never reaches a lookup.
    pub fn parse(presented: &str) -> Option<Self> {
        let decoded = URL_SAFE_NO_PAD.decode(presented.as_bytes()).ok()?;
        (decoded.len() == TOKEN_BYTES).then(|| Self(SecretString::from(presented.to_owned())))
    }

    /// Lowercase hex SHA-256 of the token text: the only form the table holds.
    pub fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.0.expose_secret().as_bytes()))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for OpaqueToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OpaqueToken(redacted)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_carry_256_bits_and_differ() {
        let a = OpaqueToken::generate().expect("random");
        let b = OpaqueToken::generate().expect("random");
        assert_eq!(
            URL_SAFE_NO_PAD.decode(a.expose()).expect("base64url").len(),
            32
        );
        assert_ne!(a.expose(), b.expose());
    }

    #[test]
    fn a_presented_token_hashes_like_the_minted_one() {
        let minted = OpaqueToken::generate().expect("random");
        let presented = OpaqueToken::parse(minted.expose()).expect("parses");
        assert_eq!(presented.hash(), minted.hash());
        assert_eq!(minted.hash().len(), 64);
        assert!(!minted.hash().contains(minted.expose()));
    }

    #[test]
    fn wrong_length_or_alphabet_is_refused() {
        assert!(OpaqueToken::parse("").is_none());
        assert!(OpaqueToken::parse("abc").is_none());
        assert!(OpaqueToken::parse(&"A".repeat(44)).is_none());
        assert!(OpaqueToken::parse(&format!("{}+", "A".repeat(42))).is_none());
        assert!(OpaqueToken::parse("eyJhbGciOiJIUzI1NiJ9.e30.sig").is_none());
    }

    #[test]
    fn debug_output_never_shows_the_token() {
        let token = OpaqueToken::generate().expect("random");
        assert!(!format!("{token:?}").contains(token.expose()));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::arbitrary::config;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn only_the_encoding_of_256_bits_parses_and_its_hash_is_hex(
            bytes in any::<[u8; TOKEN_BYTES]>(), text in "[A-Za-z0-9_=+/-]{0,60}|.{0,60}"
        ) {
            let encoded = URL_SAFE_NO_PAD.encode(bytes);
            let token = OpaqueToken::parse(&encoded).expect("an issued token parses");
            prop_assert_eq!(token.expose(), encoded.as_str());
            let hash = token.hash();
            prop_assert!(hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()));
            prop_assert_eq!(&hash, &hash.to_lowercase());
            if let Some(parsed) = OpaqueToken::parse(&text) {
                prop_assert_eq!(parsed.expose().len(), 43);
                let decoded = URL_SAFE_NO_PAD.decode(parsed.expose()).expect("base64url");
                prop_assert_eq!(URL_SAFE_NO_PAD.encode(decoded), text);
            }
        }
    }
}
