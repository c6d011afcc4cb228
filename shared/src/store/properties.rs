//! Every key this module family writes parses back to what it was made from, and no parser
//! panics on arbitrary text.

use proptest::prelude::*;
use time::OffsetDateTime;

use super::earnings::{self, MarketplaceId};
use super::password_resets::Purpose;
use super::users::{self, Role, UserId};
use super::{audit_log, credentials, login_failures, rate_limits, refresh_tokens, sessions};
use crate::arbitrary::config;
use crate::clock;
use crate::email::Email;

fn user_id() -> impl Strategy<Value = UserId> {
    any::<u128>().prop_filter_map("a UUID", |n| {
        UserId::parse(&uuid::Uuid::from_u128(n).hyphenated().to_string())
    })
}

/// Instants at millisecond precision (what keys keep), from 1970 to 2100.
fn instant() -> impl Strategy<Value = OffsetDateTime> {
    (0i128..4_102_444_800_000).prop_filter_map("in range", |ms| {
        OffsetDateTime::from_unix_timestamp_nanos(ms * 1_000_000).ok()
    })
}

fn email() -> impl Strategy<Value = Email> {
    "[A-Za-z0-9ßÉü._+#%-]{1,20}@[A-Za-z0-9ü-]{1,12}\\.[a-z]{2,6}"
        .prop_filter_map("a valid address", |text| Email::parse(&text).ok())
}

fn marketplace_id() -> impl Strategy<Value = MarketplaceId> {
    "[A-Za-z0-9._-]{1,100}".prop_filter_map("not reserved", |t| MarketplaceId::parse(&t))
}

fn token_hash() -> impl Strategy<Value = String> {
    any::<[u8; 32]>().prop_map(hex::encode)
}

fn role() -> impl Strategy<Value = Role> {
    prop::sample::select(vec![Role::Customer, Role::Developer, Role::Admin])
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn user_keys_round_trip(
        user in user_id(), at in instant(), role in role(), active in any::<bool>()
    ) {
        prop_assert_eq!(users::parse_pk(&users::pk(&user)), Some(user.clone()));
        prop_assert_eq!(
            users::parse_index_sk(&users::index_sk(at, &user)),
            Some((at, user.clone()))
        );
        let list_pk = users::list_index_pk(role, active);
        prop_assert_eq!(users::parse_list_index_pk(&list_pk), Some((role, active)));
        prop_assert_eq!(sessions::parse_pk(&sessions::pk(&user)), Some(user));
    }

    #[test]
    fn email_keys_round_trip(email in email()) {
        let key = credentials::pk(&email);
        prop_assert_eq!(credentials::parse_pk(&key), Some(email.clone()));
        prop_assert_eq!(login_failures::parse_pk(&login_failures::pk(&email)), Some(email));
    }

    #[test]
    fn session_and_refresh_token_keys_round_trip(
        user in user_id(), family in user_id(), hash in token_hash(), at in instant()
    ) {
        let family = family.as_str();
        let (session_sk, token_pk) = (sessions::sk(family), refresh_tokens::pk(&hash));
        prop_assert_eq!(sessions::parse_sk(&session_sk), Some(family));
        prop_assert_eq!(refresh_tokens::parse_pk(&token_pk), Some(&*hash));
        let index = refresh_tokens::user_index_pk(&user);
        prop_assert_eq!(refresh_tokens::parse_user_index_pk(&index), Some(user));
        let sk = refresh_tokens::user_index_sk(at, &hash);
        prop_assert_eq!(refresh_tokens::parse_user_index_sk(&sk), Some((at, &hash[..16])));
    }

    #[test]
    fn one_time_token_keys_round_trip_and_stay_apart(user in user_id(), hash in token_hash()) {
        for (purpose, other) in [
            (Purpose::PasswordReset, Purpose::EmailVerification),
            (Purpose::EmailVerification, Purpose::PasswordReset),
        ] {
            let pk = purpose.pk(&hash);
            prop_assert_eq!(purpose.parse_pk(&pk), Some(&*hash));
            prop_assert_eq!(other.parse_pk(&pk), None);
            let pointer = purpose.pointer_pk(&user);
            prop_assert_eq!(purpose.parse_pointer_pk(&pointer), Some(user.clone()));
            let index = purpose.user_index_pk(&user);
            prop_assert_eq!(purpose.parse_user_index_pk(&index), Some(user.clone()));
            prop_assert_eq!(other.parse_user_index_pk(&index), None);
        }
    }

    #[test]
    fn rate_window_keys_round_trip_even_when_the_key_holds_hashes(
        scope in "[a-z_]{1,20}", key in "[ -~]{1,60}", start in any::<i64>()
    ) {
        let pk = rate_limits::pk(&scope, &key, start);
        prop_assert_eq!(rate_limits::parse_pk(&pk), Some((&*scope, &*key, start)));
    }

    #[test]
    fn audit_keys_round_trip(
        user in user_id(), id in user_id(), at in instant(), success in any::<bool>()
    ) {
        let id = id.as_str();
        let (pk, sk) = (audit_log::pk(id), audit_log::index_sk(at, id));
        prop_assert_eq!(audit_log::parse_pk(&pk), Some(id));
        let index = audit_log::user_index_pk(&user);
        prop_assert_eq!(audit_log::parse_user_index_pk(&index), Some(user));
        let day = clock::day(at);
        let day_pk = audit_log::day_index_pk(at, success);
        prop_assert_eq!(audit_log::parse_day_index_pk(&day_pk), Some((day.as_str(), success)));
        prop_assert_eq!(audit_log::parse_index_sk(&sk), Some((at, id)));
    }

    #[test]
    fn earnings_keys_round_trip(
        developer in user_id(), agent in marketplace_id(), id in marketplace_id(),
        entry in user_id(), at in instant()
    ) {
        prop_assert_eq!(users::parse_pk(&earnings::record_pk(&developer)), Some(developer));
        let record_sk = earnings::record_sk(&agent);
        prop_assert_eq!(earnings::parse_record_sk(&record_sk), Some(agent.clone()));
        prop_assert_eq!(earnings::parse_agent_pk(&earnings::agent_pk(&agent)), Some(agent));
        let created = clock::rfc3339(at);
        let entry_sk = earnings::entry_sk(&created, entry.as_str());
        prop_assert_eq!(
            earnings::parse_entry_sk(&entry_sk),
            Some((created.as_str(), entry.as_str()))
        );
        prop_assert_eq!(earnings::parse_sale_pk(&earnings::sale_pk(&id)), Some(id.clone()));
        prop_assert_eq!(earnings::parse_payout_pk(&earnings::payout_pk(&id)), Some(id));
    }

    #[test]
    fn key_parsers_refuse_arbitrary_text_without_panicking(text in ".{0,80}") {
        let _ = users::parse_pk(&text);
        let _ = users::parse_list_index_pk(&text);
        let _ = users::parse_index_sk(&text);
        let _ = credentials::parse_pk(&text);
        let _ = sessions::parse_sk(&text);
        let _ = refresh_tokens::parse_user_index_sk(&text);
        let _ = Purpose::PasswordReset.parse_pk(&text);
        let _ = rate_limits::parse_pk(&text);
        let _ = audit_log::parse_day_index_pk(&text);
        let _ = audit_log::parse_index_sk(&text);
        let _ = earnings::parse_entry_sk(&text);
        // A parsed id is one its key function writes back to the same text.
        if let Some(user) = users::parse_pk(&text) {
            prop_assert_eq!(users::pk(&user), text.clone());
        }
        if let Some(email) = credentials::parse_pk(&text) {
            prop_assert_eq!(credentials::pk(&email), text);
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_user_id_is_exactly_a_lowercase_hyphenated_uuid(text in ".{0,40}|[0-9a-fA-F-]{36}") {
        let canonical = uuid::Uuid::parse_str(&text)
            .is_ok_and(|id| id.hyphenated().to_string() == text);
        let parsed = UserId::parse(&text);
        prop_assert_eq!(parsed.is_some(), canonical, "{:?}", text);
        if let Some(id) = parsed {
            prop_assert_eq!(id.as_str(), text.as_str());
        }
    }

    #[test]
    fn a_marketplace_id_is_safe_in_keys_and_paths(text in "[A-Za-z0-9._#/ -]{0,110}|.{0,20}") {
        if let Some(id) = MarketplaceId::parse(&text) {
            prop_assert_eq!(id.as_str(), text.as_str());
            prop_assert!((1..=100).contains(&text.len()));
            let safe = |c: char| c.is_ascii_alphanumeric() || ".-_".contains(c);
            prop_assert!(text.chars().all(safe));
            prop_assert!(!["agents", "sales", "payouts", "earnings"].contains(&text.as_str()));
        }
    }

    #[test]
    fn roles_and_experience_levels_parse_back_from_their_names(text in "[a-z]{0,12}") {
        if let Some(role) = Role::parse(&text) {
            prop_assert_eq!(role.as_str(), text.as_str());
        }
        if let Some(level) = users::Experience::parse(&text) {
            let json = serde_json::to_value(level).expect("serializes");
            prop_assert_eq!(json.as_str(), Some(text.as_str()));
        }
    }
}
