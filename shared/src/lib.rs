//! Everything the CapeControl Auth functions share: configuration, the HTTP boundary, the domain
//! types parsed from requests, password hashing, tokens and the single-table mapping.

#[cfg(any(test, feature = "test-support"))]
pub mod arbitrary;
pub mod audit;
pub mod auth;
pub mod clock;
pub mod config;
pub mod cursor;
pub mod db;
pub mod email;
pub mod erasure;
pub mod fields;
pub mod http;
pub mod jwt;
pub mod keyring;
pub mod mail;
pub mod money;
pub mod notify;
pub mod one_time;
pub mod opaque_token;
pub mod password;
pub mod profile_fields;
pub mod query;
pub mod reauth;
pub mod request_meta;
pub mod revocation;
pub mod runtime;
pub mod session;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod text;
pub mod throttle;
