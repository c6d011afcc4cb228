//! The canonical form of an email address, used identically by every function.
//!
//! Rules (also in the README):
//! - surrounding whitespace is trimmed;
//! - exactly one `@`; quoted local parts and comments are refused;
//! - the local part is NFKC-normalized and Unicode case-folded (then normalized again), so
//!   `Straße`, `STRASSE` and `strasse` are one mailbox, as are fullwidth and ASCII forms:
//!   mailbox names are treated as case-insensitive, as every major provider does; invisible
//!   characters (zero-width, bidi controls, soft hyphen) are refused;
//! - the domain goes through IDNA (UTS #46) to its ASCII form, so `bücher.de` and
//!   `xn--bcher-kva.de` are one domain, and is lowercased;
//! - plus-addressing and dots are kept: `ann+shop@` and `ann@` are different addresses, because
//!   only some providers treat them as one mailbox.

use std::fmt;
use unicode_normalization::UnicodeNormalization;

const MAX_INPUT_BYTES: usize = 1024;
const MAX_LOCAL_BYTES: usize = 64;
const MAX_DOMAIN_BYTES: usize = 253;
const MAX_ADDRESS_BYTES: usize = 254;

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a valid email address")]
pub struct InvalidEmail;

impl Email {
    pub fn parse(raw: &str) -> Result<Self, InvalidEmail> {
        if raw.len() > MAX_INPUT_BYTES {
            return Err(InvalidEmail);
        }
        let (local, domain) = raw.trim().rsplit_once('@').ok_or(InvalidEmail)?;
        let local = canonical_local_part(local)?;
        let domain = canonical_domain(domain)?;
        let address = format!("{local}@{domain}");
        if address.len() > MAX_ADDRESS_BYTES {
            return Err(InvalidEmail);
        }
        Ok(Self(address))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn local_part(&self) -> &str {
        self.0.split('@').next().unwrap_or_default()
    }
}

/// NFKC, full case folding, NFKC again: the result is a fixed point (checked by the caller).
fn fold(local: &str) -> String {
    let normalized: String = local.nfkc().collect();
    caseless::default_case_fold_str(&normalized)
        .nfkc()
        .collect()
}

fn canonical_local_part(local: &str) -> Result<String, InvalidEmail> {
    let local = fold(local);
    if fold(&local) != local {
        return Err(InvalidEmail);
    }
    let forbidden = |c: char| {
        c.is_whitespace() || crate::text::is_unprintable(c) || "@\"(),:;<>[\\]".contains(c)
    };
    let valid = !local.is_empty()
        && local.len() <= MAX_LOCAL_BYTES
        && !local.chars().any(forbidden)
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..");
    if valid {
        Ok(local)
    } else {
        Err(InvalidEmail)
    }
}

fn canonical_domain(domain: &str) -> Result<String, InvalidEmail> {
    let ascii = idna::domain_to_ascii(domain).map_err(|_| InvalidEmail)?;
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    let valid = ascii.len() <= MAX_DOMAIN_BYTES
        && ascii.contains('.')
        && ascii.split('.').all(label_ok)
        && !ascii
            .rsplit('.')
            .next()
            .unwrap_or_default()
            .chars()
            .all(|c| c.is_ascii_digit());
    if valid {
        Ok(ascii)
    } else {
        Err(InvalidEmail)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Addresses are personal data: debug output shows only the domain.
impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let domain = self.0.rsplit('@').next().unwrap_or_default();
        write!(f, "Email(***@{domain})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(raw: &str) -> String {
        Email::parse(raw).expect(raw).as_str().to_owned()
    }

    #[test]
    fn whitespace_is_trimmed_and_case_folded() {
        assert_eq!(canonical("  Ann.Lee@Example.COM \n"), "ann.lee@example.com");
    }

    #[test]
    fn unicode_domains_become_their_ascii_form() {
        assert_eq!(canonical("ann@Bücher.de"), "ann@xn--bcher-kva.de");
        assert_eq!(canonical("ann@xn--bcher-kva.de"), "ann@xn--bcher-kva.de");
    }

    #[test]
    fn plus_addressing_and_dots_are_kept_distinct() {
        assert_eq!(canonical("ann+shop@example.com"), "ann+shop@example.com");
        assert_ne!(
            canonical("ann+shop@example.com"),
            canonical("ann@example.com")
        );
        assert_ne!(canonical("a.nn@example.com"), canonical("ann@example.com"));
    }

    #[test]
    fn case_folding_is_full_and_compatibility_forms_are_one_address() {
        assert_eq!(
            canonical("STRASSE@example.com"),
            canonical("straße@example.com")
        );
        assert_eq!(canonical("ΑΣ@example.com"), canonical("ασ@example.com"));
        assert_eq!(canonical("ａｎｎ@example.com"), "ann@example.com");
        assert_eq!(canonical("\u{fb01}x@example.com"), "fix@example.com");
    }

    #[test]
    fn greek_combining_sequences_reach_one_fixed_point() {
        let composed = canonical("\u{1fb4}x@example.com");
        let decomposed = canonical("\u{0386}\u{0345}x@example.com");
        assert_eq!(composed, decomposed);
        assert_eq!(canonical(&composed), composed);
    }

    #[test]
    fn invisible_characters_are_refused_in_the_local_part() {
        for raw in [
            "a\u{200b}nn@example.com",
            "a\u{202e}nn@example.com",
            "a\u{ad}nn@example.com",
        ] {
            assert_eq!(Email::parse(raw), Err(InvalidEmail), "{raw:?} accepted");
        }
    }

    #[test]
    fn unicode_local_parts_are_normalized_before_lowercasing() {
        // "É" precomposed and as E + combining acute are one address.
        assert_eq!(
            canonical("\u{c9}va@example.com"),
            canonical("E\u{301}va@example.com")
        );
        assert_eq!(canonical("\u{c9}va@example.com"), "\u{e9}va@example.com");
    }

    #[test]
    fn canonicalization_is_idempotent() {
        for raw in ["Ann@Bücher.de", " X+Y@Example.org", "\u{c9}va@EXAMPLE.com"] {
            let once = canonical(raw);
            assert_eq!(canonical(&once), once);
        }
    }

    #[test]
    fn malformed_addresses_are_refused() {
        let long_local = format!("{}@example.com", "a".repeat(65));
        let long_input = format!("a@{}.com", "b".repeat(2000));
        for raw in [
            "",
            "ann",
            "@example.com",
            "ann@",
            "ann@localhost",
            "ann@exa mple.com",
            "an n@example.com",
            "\"ann\"@example.com",
            ".ann@example.com",
            "an..n@example.com",
            "ann@-example.com",
            "ann@example..com",
            "ann@1.2.3.4",
            "ann\u{0}@example.com",
            long_local.as_str(),
            long_input.as_str(),
        ] {
            assert_eq!(Email::parse(raw), Err(InvalidEmail), "{raw:?} accepted");
        }
    }

    #[test]
    fn debug_output_hides_the_mailbox() {
        let email = Email::parse("secret.person@example.com").expect("valid");
        assert_eq!(format!("{email:?}"), "Email(***@example.com)");
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::arbitrary::config;
    use proptest::prelude::*;

    /// Addresses built from letters that case-fold and normalize in interesting ways, and
    /// arbitrary text besides.
    fn candidate() -> impl Strategy<Value = String> {
        prop_oneof![
            "[ ]?[A-Za-z0-9ßẞÉéǅﬁＡ-Ｚ\u{301}\u{200b}._+#-]{1,24}@[A-Za-zÜü0-9.-]{1,16}\\.[a-zA-Z]{2,6}[ ]?",
            ".{0,40}",
        ]
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn canonicalization_is_idempotent_and_the_canonical_form_is_accepted(raw in candidate()) {
            if let Ok(email) = Email::parse(&raw) {
                let again = Email::parse(email.as_str());
                prop_assert_eq!(again.as_ref(), Ok(&email), "{:?} -> {}", raw, email);
                prop_assert!(email.as_str().len() <= MAX_ADDRESS_BYTES);
                prop_assert_eq!(email.as_str().matches('@').count(), 1);
                prop_assert!(email.as_str().is_ascii() || !email.local_part().is_empty());
            }
        }

        #[test]
        fn upper_and_lower_case_ascii_spellings_are_one_address(
            local in "[a-z0-9._+-]{1,20}", domain in "[a-z0-9]{1,12}\\.[a-z]{2,6}"
        ) {
            let lower = Email::parse(&format!("{local}@{domain}"));
            let upper = Email::parse(&format!("{}@{}", local.to_uppercase(), domain.to_uppercase()));
            prop_assert_eq!(lower, upper);
        }
    }
}
