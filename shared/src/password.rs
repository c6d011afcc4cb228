//! Passwords: the registration policy, and argon2id hashing on the blocking pool.

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{
    Output, PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString,
};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use std::sync::Arc;
use unicode_normalization::UnicodeNormalization;

pub const MIN_CHARS: usize = 12;
pub const MAX_CHARS: usize = 128;
/// Checked on the raw input before normalization or hashing: 128 characters of at most four
/// UTF-8 bytes each. Anything longer is refused without spending CPU on it.
pub const MAX_BYTES: usize = MAX_CHARS * 4;
/// zxcvbn scores run from 0 to 4; below 3 is guessable within about 10^8 attempts.
const MIN_STRENGTH: u8 = 3;

/// OWASP's argon2id recommendation: 19 MiB of memory, two passes, one lane.
pub const OWASP_MEMORY_KIB: u32 = 19_456;
pub const OWASP_ITERATIONS: u32 = 2;
pub const OWASP_PARALLELISM: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRejection {
    #[error("password must be at least {MIN_CHARS} characters")]
    TooShort,
    #[error("password must be at most {MAX_CHARS} characters")]
    TooLong,
    #[error("password is too easy to guess")]
    TooWeak,
}

impl PasswordRejection {
    pub fn code(self) -> &'static str {
        match self {
            Self::TooShort => "password_too_short",
            Self::TooLong => "password_too_long",
            Self::TooWeak => "password_too_weak",
        }
    }

    /// What a client can show the user.
    pub fn message(self) -> &'static str {
        match self {
            Self::TooShort => "Use at least 12 characters.",
            Self::TooLong => "Use at most 128 characters.",
            Self::TooWeak => {
                "This password is too easy to guess; a few unrelated words make a strong one."
            }
        }
    }
}

/// A password as presented, NFKC-normalized so that visually equal input hashes equally.
/// Cloning shares the one secret allocation.
#[derive(Clone)]
pub struct Password(Arc<SecretString>);

impl Password {
    /// A login attempt: only the byte cap applies, so an over-long value costs no hashing.
    pub fn from_attempt(raw: &str) -> Option<Self> {
        let normalized: String = raw.nfkc().collect();
        (raw.len() <= MAX_BYTES).then(|| Self(Arc::new(SecretString::from(normalized))))
    }

    /// A new password: length in characters after normalization, and strength judged with the
    /// user's own details (email, names) as words an attacker would try first.
    pub fn new_checked(raw: &str, user_inputs: &[&str]) -> Result<Self, PasswordRejection> {
        if raw.len() > MAX_BYTES {
            return Err(PasswordRejection::TooLong);
        }
        let normalized: String = raw.nfkc().collect();
        let chars = normalized.chars().count();
        if chars < MIN_CHARS {
            return Err(PasswordRejection::TooShort);
        }
        if chars > MAX_CHARS {
            return Err(PasswordRejection::TooLong);
        }
        let inputs: Vec<&str> = user_inputs
            .iter()
            .copied()
            .filter(|s| !s.is_empty())
            .collect();
        if u8::from(zxcvbn::zxcvbn(&normalized, &inputs).score()) < MIN_STRENGTH {
            return Err(PasswordRejection::TooWeak);
        }
        Ok(Self(Arc::new(SecretString::from(normalized))))
    }

    fn bytes(&self) -> &[u8] {
        self.0.expose_secret().as_bytes()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(redacted)")
    }
}

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`).
#[derive(Clone)]
pub struct PasswordHashString(SecretString);

impl PasswordHashString {
    pub fn new(phc: String) -> Self {
        Self(SecretString::from(phc))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for PasswordHashString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHashString(redacted)")
    }
}

/// argon2id with the configured parameters. Cheap to clone; every hash and verification runs on
/// tokio's blocking pool so that a 20 ms computation never stalls the async executor.
#[derive(Debug, Clone)]
pub struct Hasher {
    params: Arc<Params>,
}

impl Hasher {
    pub fn owasp() -> Self {
        Self::with_params(OWASP_MEMORY_KIB, OWASP_ITERATIONS, OWASP_PARALLELISM)
            .unwrap_or_else(|_| unreachable!("OWASP parameters are valid"))
    }

    pub fn with_params(memory_kib: u32, iterations: u32, lanes: u32) -> anyhow::Result<Self> {
        let params = Params::new(memory_kib, iterations, lanes, None)
            .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
        Ok(Self {
            params: Arc::new(params),
        })
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, (*self.params).clone())
    }

    pub async fn hash(&self, password: Password) -> anyhow::Result<PasswordHashString> {
        let hasher = self.clone();
        tokio::task::spawn_blocking(move || hasher.hash_now(&password))
            .await
            .map_err(|e| anyhow::anyhow!("hashing task failed: {e}"))?
    }

    fn hash_now(&self, password: &Password) -> anyhow::Result<PasswordHashString> {
        let salt = SaltString::generate(&mut OsRng);
        let phc = self
            .argon2()
            .hash_password(password.bytes(), &salt)
            .map_err(|e| anyhow::anyhow!("argon2 hash: {e}"))?;
        Ok(PasswordHashString::new(phc.to_string()))
    }

    /// True only when `password` matches. A stored value that does not parse is a mismatch.
    pub async fn verify(
        &self,
        password: Password,
        stored: PasswordHashString,
    ) -> anyhow::Result<bool> {
        let hasher = self.clone();
        tokio::task::spawn_blocking(move || hasher.verify_now(&password, &stored))
            .await
            .map_err(|e| anyhow::anyhow!("verification task failed: {e}"))
    }

    fn verify_now(&self, password: &Password, stored: &PasswordHashString) -> bool {
        match PasswordHash::new(stored.expose()) {
            Ok(parsed) => self
                .argon2()
                .verify_password(password.bytes(), &parsed)
                .is_ok(),
            Err(_) => false,
        }
    }

    /// Whether a stored hash was made with other than the configured algorithm or parameters.
    pub fn needs_rehash(&self, stored: &PasswordHashString) -> bool {
        let Ok(parsed) = PasswordHash::new(stored.expose()) else {
            return true;
        };
        let same_algorithm = parsed.algorithm == Algorithm::Argon2id.ident()
            && parsed.version == Some(Version::V0x13.into());
        let same_params = Params::try_from(&parsed).is_ok_and(|p| {
            p.m_cost() == self.params.m_cost()
                && p.t_cost() == self.params.t_cost()
                && p.p_cost() == self.params.p_cost()
        });
        !(same_algorithm && same_params)
    }

    /// What an unknown email is verified against, so that it costs what a wrong password costs:
    /// a PHC string with the configured algorithm and parameters, a random salt and a random
    /// output. Verification recomputes argon2id over the attempt whatever the output is, so
    /// nothing needs hashing here (no work at cold start), and no password matches it.
    pub async fn dummy_hash(&self) -> anyhow::Result<PasswordHashString> {
        let salt = SaltString::generate(&mut OsRng);
        let mut output = vec![
            0_u8;
            self.params
                .output_len()
                .unwrap_or(Params::DEFAULT_OUTPUT_LEN)
        ];
        OsRng.fill_bytes(&mut output);
        let output = Output::new(&output).map_err(|e| anyhow::anyhow!("argon2 output: {e}"))?;
        let (m, t, p) = (
            self.params.m_cost(),
            self.params.t_cost(),
            self.params.p_cost(),
        );
        let phc = format!("$argon2id$v=19$m={m},t={t},p={p}${salt}${output}");
        PasswordHash::new(&phc).map_err(|e| anyhow::anyhow!("dummy hash: {e}"))?;
        Ok(PasswordHashString::new(phc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRONG: &str = "correct horse battery staple 42";

    #[tokio::test]
    async fn the_dummy_hash_has_the_configured_parameters_and_matches_no_password() {
        let hasher = Hasher::with_params(1024, 2, 1).expect("params");
        let dummy = hasher.dummy_hash().await.expect("dummy");
        assert!(
            !hasher.needs_rehash(&dummy),
            "same algorithm and parameters as real hashes"
        );
        let again = hasher.dummy_hash().await.expect("dummy");
        assert_ne!(dummy.expose(), again.expose(), "random salt and output");
        for attempt in ["", STRONG, "password"] {
            let attempt = Password::from_attempt(attempt).expect("attempt");
            assert!(!hasher.verify(attempt, dummy.clone()).await.expect("verify"));
        }
    }

    #[test]
    fn short_long_and_over_the_byte_cap_are_refused() {
        assert_eq!(
            Password::new_checked("Tr0ub4dor&3", &[]).err(),
            Some(PasswordRejection::TooShort)
        );
        let long = "x7#Qm".repeat(26);
        assert_eq!(
            Password::new_checked(&long, &[]).err(),
            Some(PasswordRejection::TooLong)
        );
        let heavy = "\u{1F512}".repeat(129);
        assert_eq!(
            Password::new_checked(&heavy, &[]).err(),
            Some(PasswordRejection::TooLong)
        );
        assert!(Password::from_attempt(&"a".repeat(MAX_BYTES + 1)).is_none());
    }

    #[test]
    fn length_counts_characters_after_nfkc() {
        // Twelve fullwidth letters normalize to twelve ASCII letters: the length is the same.
        let fullwidth = "ｑｗｅｒｔｙｕｉｏｐａｓ";
        assert_eq!(fullwidth.nfkc().collect::<String>(), "qwertyuiopas");
        assert_eq!(
            Password::new_checked(fullwidth, &[]).err(),
            Some(PasswordRejection::TooWeak)
        );
    }

    #[test]
    fn guessable_passwords_and_ones_built_from_the_users_details_are_refused() {
        for weak in ["password1234", "aaaaaaaaaaaa", "qwertyuiop123"] {
            assert_eq!(
                Password::new_checked(weak, &[]).err(),
                Some(PasswordRejection::TooWeak)
            );
        }
        let context = ["zanzibar.quokka@example.com", "Zanzibar", "Quokka"];
        assert!(Password::new_checked("ZanzibarQuokka", &[]).is_ok());
        assert_eq!(
            Password::new_checked("ZanzibarQuokka", &context).err(),
            Some(PasswordRejection::TooWeak)
        );
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_only_and_is_an_owasp_argon2id_phc_string() {
        let hasher = Hasher::owasp();
        let checked = Password::new_checked(STRONG, &[]).expect("strong");
        let stored = hasher.hash(checked).await.expect("hash");
        assert!(stored
            .expose()
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        let right = Password::from_attempt(STRONG).expect("attempt");
        let wrong = Password::from_attempt("correct horse battery staple 43").expect("attempt");
        assert!(hasher.verify(right, stored.clone()).await.expect("verify"));
        assert!(!hasher.verify(wrong, stored.clone()).await.expect("verify"));
        assert!(!hasher.needs_rehash(&stored));
    }

    #[tokio::test]
    async fn visually_equal_passwords_verify_alike() {
        let hasher = Hasher::owasp();
        let stored = hasher
            .hash(Password::new_checked("ｃｏｒｒｅｃｔ horse battery staple 42", &[]).expect("ok"))
            .await
            .expect("hash");
        let ascii = Password::from_attempt(STRONG).expect("attempt");
        assert!(hasher.verify(ascii, stored).await.expect("verify"));
    }

    #[tokio::test]
    async fn hashes_made_with_other_parameters_need_rehashing() {
        let weak = Hasher::with_params(8_192, 1, 1).expect("params");
        let stored = weak
            .hash(Password::from_attempt(STRONG).expect("ok"))
            .await
            .expect("hash");
        assert!(Hasher::owasp().needs_rehash(&stored));
        assert!(Hasher::owasp().needs_rehash(&PasswordHashString::new("$2b$12$bcrypt".into())));
    }

    #[tokio::test]
    async fn an_unparseable_stored_hash_never_verifies() {
        let hasher = Hasher::owasp();
        let attempt = Password::from_attempt(STRONG).expect("attempt");
        let garbage = PasswordHashString::new("not a hash".into());
        assert!(!hasher.verify(attempt, garbage).await.expect("verify"));
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let password = Password::from_attempt(STRONG).expect("attempt");
        assert!(!format!("{password:?}").contains("horse"));
        let hash = PasswordHashString::new("$argon2id$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA".into());
        assert!(!format!("{hash:?}").contains("argon2id"));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::arbitrary::config;
    use proptest::prelude::*;

    proptest! {
        // zxcvbn judges every accepted length; fewer cases keep this near a second.
        #![proptest_config(ProptestConfig { cases: 64, ..config() })]

        #[test]
        fn a_new_password_fits_the_policy_or_is_refused_with_its_reason(
            raw in ".{0,140}|[a-z ]{8,20}|[ﬁ\u{301}e]{10,14}",
            name in "[A-Za-z]{0,12}",
        ) {
            let chars = raw.nfkc().count();
            match Password::new_checked(&raw, &[&name, ""]) {
                Ok(password) => {
                    prop_assert!((MIN_CHARS..=MAX_CHARS).contains(&chars), "{}", chars);
                    prop_assert!(raw.len() <= MAX_BYTES);
                    let normalized: String = raw.nfkc().collect();
                    prop_assert_eq!(password.bytes(), normalized.as_bytes());
                }
                Err(PasswordRejection::TooShort) => prop_assert!(chars < MIN_CHARS),
                Err(PasswordRejection::TooLong) => {
                    prop_assert!(chars > MAX_CHARS || raw.len() > MAX_BYTES);
                }
                Err(PasswordRejection::TooWeak) => {
                    prop_assert!((MIN_CHARS..=MAX_CHARS).contains(&chars));
                }
            }
            let attempt = Password::from_attempt(&raw);
            prop_assert_eq!(attempt.is_some(), raw.len() <= MAX_BYTES);
        }
    }
}
