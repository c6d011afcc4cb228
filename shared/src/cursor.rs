//! Opaque pagination cursors. A cursor is the position to resume after and an HMAC-SHA256
//! over that position and the listing's scope (whose items), keyed with a key derived from the
//! JWT signing key and the listing's purpose. A client can neither edit a cursor nor carry one
//! into another user's listing: the scope is never read from the cursor, only checked. The
//! position is not secret (a sort key, an id, a time): callers put nothing secret in it.
//!
//! Cursors signed before a key rotation verify while that key is AWSPREVIOUS; older ones are
//! refused and the client starts the listing again.

use crate::keyring::{KeySet, SigningKey};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The cursor was not issued by this service for this listing (edited, foreign, too old).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid cursor")]
pub struct InvalidCursor;

type HmacSha256 = Hmac<Sha256>;

const MAX_CURSOR_CHARS: usize = 512;

/// Cursors of one kind of listing; `purpose` separates their key from every other use of the
/// signing key (and from other listings' cursors).
#[derive(Debug, Clone, Copy)]
pub struct Cursors {
    purpose: &'static [u8],
}

impl Cursors {
    pub const fn new(purpose: &'static [u8]) -> Self {
        Self { purpose }
    }

    pub fn encode(self, keys: &KeySet, scope: &str, position: &str) -> String {
        encode(self.purpose, keys, scope, position)
    }

    /// The position a cursor names, if this service issued it for `scope`.
    pub fn decode(self, keys: &KeySet, scope: &str, cursor: &str) -> Result<String, InvalidCursor> {
        decode(self.purpose, keys, scope, cursor)
    }
}

fn encode(purpose: &[u8], keys: &KeySet, scope: &str, position: &str) -> String {
    let tag = mac(purpose, &keys.current, scope, position)
        .finalize()
        .into_bytes();
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(position),
        URL_SAFE_NO_PAD.encode(tag)
    )
}

fn decode(
    purpose: &[u8],
    keys: &KeySet,
    scope: &str,
    cursor: &str,
) -> Result<String, InvalidCursor> {
    if cursor.len() > MAX_CURSOR_CHARS {
        return Err(InvalidCursor);
    }
    let (position, tag) = cursor.split_once('.').ok_or(InvalidCursor)?;
    let position = URL_SAFE_NO_PAD
        .decode(position)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or(InvalidCursor)?;
    let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| InvalidCursor)?;
    let genuine = std::iter::once(&keys.current)
        .chain(keys.previous.as_ref())
        .any(|key| {
            mac(purpose, key, scope, &position)
                .verify_slice(&tag)
                .is_ok()
        });
    if genuine {
        Ok(position)
    } else {
        Err(InvalidCursor)
    }
}

fn mac(purpose: &[u8], key: &SigningKey, scope: &str, position: &str) -> HmacSha256 {
    let mut derive = HmacSha256::new_from_slice(key.bytes()).unwrap_or_else(|_| {
        unreachable!("HMAC takes keys of any length");
    });
    derive.update(purpose);
    let cursor_key = derive.finalize().into_bytes();
    let mut mac = HmacSha256::new_from_slice(&cursor_key).unwrap_or_else(|_| {
        unreachable!("HMAC takes keys of any length");
    });
    // Length-prefixed, so that no (scope, position) pair can pass for another.
    mac.update(&(scope.len() as u64).to_be_bytes());
    mac.update(scope.as_bytes());
    mac.update(position.as_bytes());
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kid: &str, fill: u8) -> SigningKey {
        SigningKey::new(kid, vec![fill; 32]).expect("key")
    }

    const TEST: Cursors = Cursors::new(b"test cursor");

    fn encode(keys: &KeySet, scope: &str, position: &str) -> String {
        TEST.encode(keys, scope, position)
    }

    fn decode(keys: &KeySet, scope: &str, cursor: &str) -> Result<String, InvalidCursor> {
        TEST.decode(keys, scope, cursor)
    }

    #[test]
    fn cursors_of_another_purpose_are_refused() {
        let cursor = encode(&keys(), "s", "p");
        assert!(Cursors::new(b"other")
            .decode(&keys(), "s", &cursor)
            .is_err());
    }

    fn keys() -> KeySet {
        KeySet {
            current: key("k2", 2),
            previous: Some(key("k1", 1)),
        }
    }

    #[test]
    fn a_cursor_decodes_to_its_position_in_its_own_scope_only() {
        let cursor = encode(&keys(), "records:dev-a", "EARNINGS#agent-9");
        assert_eq!(
            decode(&keys(), "records:dev-a", &cursor).expect("valid"),
            "EARNINGS#agent-9"
        );
        assert!(decode(&keys(), "records:dev-b", &cursor).is_err());
    }

    #[test]
    fn an_edited_position_or_tag_is_refused() {
        let cursor = encode(&keys(), "s", "EARNINGS#agent-9");
        let (_, tag) = cursor.split_once('.').expect("two parts");
        let forged = format!("{}.{tag}", URL_SAFE_NO_PAD.encode("EARNINGS#agent-0"));
        for bad in [forged.as_str(), "", ".", "abc", &cursor[..cursor.len() - 2]] {
            assert!(decode(&keys(), "s", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cursors_survive_one_rotation_of_the_signing_key() {
        let before = KeySet {
            current: key("k1", 1),
            previous: None,
        };
        let cursor = encode(&before, "s", "p");
        assert_eq!(decode(&keys(), "s", &cursor).expect("previous key"), "p");
        let twice = KeySet {
            current: key("k3", 3),
            previous: Some(key("k2", 2)),
        };
        assert!(decode(&twice, "s", &cursor).is_err());
    }
}
