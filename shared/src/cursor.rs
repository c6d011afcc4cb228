//! Opaque pagination cursors. A cursor is the position to resume after (a sort key) and an
//! HMAC-SHA256 over that position and the listing's scope (whose records, which filters),
//! keyed with a key derived from the JWT signing key and the listing's purpose. A client can
//! neither edit a cursor nor carry one into another listing: the scope is never read from the
//! cursor, only checked. The position is not secret (a sort key of the listed items).
//!
//! Cursors signed before a key rotation verify while that key is AWSPREVIOUS; older ones are
//! refused and the client starts the listing again.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::keyring::{KeySet, SigningKey};

type HmacSha256 = Hmac<Sha256>;

const MAX_CURSOR_CHARS: usize = 512;

/// A cursor this service did not issue for the listing (edited, from another listing, or
/// signed with a key no longer kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the cursor is not one this listing issued")]
pub struct InvalidCursor;

/// The listings that sign cursors; each derives its own key from the signing key, so that no
/// cursor of one kind verifies as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Earnings,
    Admin,
    /// `GET /users/me/export`.
    Export,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Self::Earnings => b"capecontrol earnings cursor v1",
            Self::Admin => b"capecontrol admin cursor v1",
            Self::Export => b"capecontrol export cursor v1",
        }
    }
}

pub fn encode(keys: &KeySet, purpose: Purpose, scope: &str, position: &str) -> String {
    let tag = mac(&keys.current, purpose, scope, position)
        .finalize()
        .into_bytes();
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(position),
        URL_SAFE_NO_PAD.encode(tag)
    )
}

/// The position a cursor names, if this service issued it for `scope`.
pub fn decode(
    keys: &KeySet,
    purpose: Purpose,
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
            mac(key, purpose, scope, &position)
                .verify_slice(&tag)
                .is_ok()
        });
    if genuine {
        Ok(position)
    } else {
        Err(InvalidCursor)
    }
}

fn mac(key: &SigningKey, purpose: Purpose, scope: &str, position: &str) -> HmacSha256 {
    let mut derive = HmacSha256::new_from_slice(key.bytes()).unwrap_or_else(|_| {
        unreachable!("HMAC takes keys of any length");
    });
    derive.update(purpose.label());
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

    const E: Purpose = Purpose::Earnings;

    fn key(kid: &str, fill: u8) -> SigningKey {
        SigningKey::new(kid, vec![fill; 32]).expect("key")
    }

    fn keys() -> KeySet {
        KeySet {
            current: key("k2", 2),
            previous: Some(key("k1", 1)),
        }
    }

    #[test]
    fn a_cursor_decodes_to_its_position_in_its_own_scope_only() {
        let cursor = encode(&keys(), E, "records:dev-a", "EARNINGS#agent-9");
        assert_eq!(
            decode(&keys(), E, "records:dev-a", &cursor).expect("valid"),
            "EARNINGS#agent-9"
        );
        assert!(decode(&keys(), E, "records:dev-b", &cursor).is_err());
    }

    #[test]
    fn an_edited_position_or_tag_is_refused() {
        let cursor = encode(&keys(), E, "s", "EARNINGS#agent-9");
        let (_, tag) = cursor.split_once('.').expect("two parts");
        let forged = format!("{}.{tag}", URL_SAFE_NO_PAD.encode("EARNINGS#agent-0"));
        for bad in [forged.as_str(), "", ".", "abc", &cursor[..cursor.len() - 2]] {
            assert!(decode(&keys(), E, "s", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cursors_survive_one_rotation_of_the_signing_key() {
        let before = KeySet {
            current: key("k1", 1),
            previous: None,
        };
        let cursor = encode(&before, E, "s", "p");
        assert_eq!(decode(&keys(), E, "s", &cursor).expect("previous key"), "p");
        let twice = KeySet {
            current: key("k3", 3),
            previous: Some(key("k2", 2)),
        };
        assert!(decode(&twice, E, "s", &cursor).is_err());
    }

    #[test]
    fn a_cursor_of_one_purpose_is_refused_by_another() {
        let cursor = encode(&keys(), E, "s", "p");
        assert!(decode(&keys(), Purpose::Admin, "s", &cursor).is_err());
    }

    proptest::proptest! {
        #![proptest_config(crate::arbitrary::config())]

        #[test]
        fn a_cursor_decodes_to_its_position_and_nothing_else_decodes(
            scope in ".{0,20}", position in ".{0,60}", forged in ".{0,80}",
        ) {
            let cursor = encode(&keys(), E, &scope, &position);
            proptest::prop_assert_eq!(decode(&keys(), E, &scope, &cursor).ok(), Some(position));
            proptest::prop_assert!(decode(&keys(), E, &scope, &forged).is_err());
            let other = format!("{scope}x");
            proptest::prop_assert!(decode(&keys(), E, &other, &cursor).is_err());
        }
    }
}
