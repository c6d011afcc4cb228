//! `users`: one profile item per user, partitioned by the user's random id.
//!
//! | item | pk | sk | gsi1 |
//! |---|---|---|---|
//! | profile | `USER#<id>` | `PROFILE` | `USERS#<role>#<active|inactive>` / `<created_at>#<id>` |
//!
//! gsi1 answers the admin listing: six partitions (three roles, two states), each in creation
//! order, so any combination of role and state filters is at most six Queries per page, and a
//! creation-time range is a key condition. Every change of role or state rewrites `gsi1pk` in
//! the same write ([`list_index_pk`]).
//!
//! The user's sessions, password-reset pointer and earnings records share the `USER#<id>`
//! partition (see their modules), so "everything of a user" is one Query.

use serde::{Deserialize, Serialize};
use std::fmt;
use time::OffsetDateTime;

use crate::clock;

pub const PROFILE_SK: &str = "PROFILE";
pub const ENTITY: &str = "user";

/// A user's id: a random UUID (the schema's SERIAL would need a shared counter, a hot item).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(String);

impl UserId {
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    /// Accepts only the canonical hyphenated lowercase form, as [`UserId::generate`] writes it.
    pub fn parse(text: &str) -> Option<Self> {
        let parsed = uuid::Uuid::parse_str(text).ok()?;
        (parsed.hyphenated().to_string() == text).then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Customer,
    Developer,
    Admin,
}

impl Role {
    pub const ALL: [Self; 3] = [Self::Customer, Self::Developer, Self::Admin];

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Developer => "developer",
            Self::Admin => "admin",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Experience {
    Beginner,
    Intermediate,
    Advanced,
    Expert,
}

impl Experience {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "beginner" => Some(Self::Beginner),
            "intermediate" => Some(Self::Intermediate),
            "advanced" => Some(Self::Advanced),
            "expert" => Some(Self::Expert),
            _ => None,
        }
    }
}

pub fn pk(user: &UserId) -> String {
    format!("USER#{user}")
}

/// The listing partition of a user with `role` and state `active`.
pub fn list_index_pk(role: Role, active: bool) -> String {
    let state = if active { "active" } else { "inactive" };
    format!("USERS#{}#{state}", role.as_str())
}

pub fn index_sk(created_at: OffsetDateTime, user: &UserId) -> String {
    format!("{}#{user}", clock::rfc3339(created_at))
}

/// The columns of the schema's `users` table, except `password_hash`, which lives only on the
/// credentials item. `token_version` is new: bumping it revokes every token issued before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub id: UserId,
    pub email: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    pub is_active: bool,
    pub is_verified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experience: Option<Experience>,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_login_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terms_accepted_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy_accepted_at: Option<String>,
    pub token_version: u64,
}

impl Profile {
    /// A new account with nothing optional filled in: active, unverified, token version 0.
    pub fn new(id: UserId, email: String, role: Role, created_at: String) -> Self {
        Self {
            id,
            email,
            role,
            first_name: None,
            last_name: None,
            phone: None,
            website: None,
            company: None,
            is_active: true,
            is_verified: false,
            email_verified_at: None,
            experience: None,
            created_at,
            updated_at: None,
            last_login_at: None,
            terms_accepted_at: None,
            privacy_accepted_at: None,
            token_version: 0,
        }
    }
}

/// The stored item: the profile plus its keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserItem {
    pub pk: String,
    pub sk: String,
    pub gsi1pk: String,
    pub gsi1sk: String,
    pub entity: String,
    #[serde(flatten)]
    pub profile: Profile,
}

impl UserItem {
    pub fn new(profile: Profile, created_at: OffsetDateTime) -> Self {
        Self {
            pk: pk(&profile.id),
            sk: PROFILE_SK.to_owned(),
            gsi1pk: list_index_pk(profile.role, profile.is_active),
            gsi1sk: index_sk(created_at, &profile.id),
            entity: ENTITY.to_owned(),
            profile,
        }
    }
}

/// The user as API responses show it: the profile without internal counters.
#[derive(Debug, Clone, Serialize)]
pub struct PublicUser<'a> {
    pub id: &'a UserId,
    pub email: &'a str,
    pub role: Role,
    pub first_name: Option<&'a str>,
    pub last_name: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub website: Option<&'a str>,
    pub company: Option<&'a str>,
    pub experience: Option<Experience>,
    pub is_active: bool,
    pub is_verified: bool,
    pub email_verified_at: Option<&'a str>,
    pub created_at: &'a str,
    pub updated_at: Option<&'a str>,
    pub last_login_at: Option<&'a str>,
    pub terms_accepted_at: Option<&'a str>,
    pub privacy_accepted_at: Option<&'a str>,
}

impl<'a> From<&'a Profile> for PublicUser<'a> {
    fn from(p: &'a Profile) -> Self {
        Self {
            id: &p.id,
            email: &p.email,
            role: p.role,
            first_name: p.first_name.as_deref(),
            last_name: p.last_name.as_deref(),
            phone: p.phone.as_deref(),
            website: p.website.as_deref(),
            company: p.company.as_deref(),
            experience: p.experience,
            is_active: p.is_active,
            is_verified: p.is_verified,
            email_verified_at: p.email_verified_at.as_deref(),
            created_at: &p.created_at,
            updated_at: p.updated_at.as_deref(),
            last_login_at: p.last_login_at.as_deref(),
            terms_accepted_at: p.terms_accepted_at.as_deref(),
            privacy_accepted_at: p.privacy_accepted_at.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn id() -> UserId {
        UserId::parse("0b7e4cf2-5d7a-4f57-9a51-2d4f0c1e9b3a").expect("uuid")
    }

    #[test]
    fn keys_are_pinned() {
        let at = datetime!(2026-12-04 13:25:55.123 UTC);
        assert_eq!(pk(&id()), "USER#0b7e4cf2-5d7a-4f57-9a51-2d4f0c1e9b3a");
        assert_eq!(
            list_index_pk(Role::Developer, true),
            "USERS#developer#active"
        );
        assert_eq!(list_index_pk(Role::Admin, false), "USERS#admin#inactive");
        assert_eq!(
            index_sk(at, &id()),
            "2026-12-04T13:25:55.123Z#0b7e4cf2-5d7a-4f57-9a51-2d4f0c1e9b3a"
        );
    }

    #[test]
    fn user_ids_must_be_canonical_uuids() {
        assert!(UserId::parse("0B7E4CF2-5D7A-4F57-9A51-2D4F0C1E9B3A").is_none());
        assert!(UserId::parse("USER#1").is_none());
        assert!(UserId::parse(UserId::generate().as_str()).is_some());
    }

    #[test]
    fn only_the_four_experience_levels_parse() {
        assert_eq!(Experience::parse("expert"), Some(Experience::Expert));
        assert_eq!(Experience::parse("Expert"), None);
        assert_eq!(Experience::parse("guru"), None);
    }
}
