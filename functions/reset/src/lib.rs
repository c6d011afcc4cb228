//! Passwords after registration, one function for three routes:
//! - `POST /auth/password-reset {email}` mails a one-time link, answering the same 202 with
//!   the same work whether or not the account exists ([`request`]);
//! - `POST /auth/password-reset/confirm {token, new_password}` sets the new password, ends every
//!   session and revokes every earlier token, in one transaction with the token's use
//!   ([`confirm`]);
//! - `POST /auth/password/change {current_password, new_password}` with an access token does
//!   the same for a signed-in user, keeping the current session ([`change`]).

mod change;
mod confirm;
mod error;
mod request;

use capecontrol_shared::http;
use capecontrol_shared::state::AppState;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

pub use error::ResetError;

pub const REQUEST_ENDPOINT: &str = "POST /auth/password-reset";
pub const CONFIRM_ENDPOINT: &str = "POST /auth/password-reset/confirm";
pub const CHANGE_ENDPOINT: &str = "POST /auth/password/change";

const ROUTES: [(&str, &str); 3] = [
    ("/auth/password-reset/confirm", CONFIRM_ENDPOINT),
    ("/auth/password-reset", REQUEST_ENDPOINT),
    ("/auth/password/change", CHANGE_ENDPOINT),
];

pub async fn handle(state: &AppState, request: Request) -> Response<Body> {
    let (endpoint, meta) = match http::dispatch(&request, &ROUTES) {
        Ok(found) => found,
        Err(answer) => return *answer,
    };
    let id = &meta.request_id;
    let outcome = match endpoint {
        REQUEST_ENDPOINT => request::request(state, &request, &meta)
            .await
            .map(|()| http::json_response(StatusCode::ACCEPTED, &request::accepted_body(), id)),
        CONFIRM_ENDPOINT => confirm::confirm(state, &request, &meta)
            .await
            .map(|()| http::empty_response(StatusCode::NO_CONTENT, id)),
        _ => change::change(state, &request, &meta)
            .await
            .map(|tokens| http::json_response(StatusCode::OK, &tokens, id)),
    };
    outcome.unwrap_or_else(|error| error.into_api_error().into_response(id))
}

#[cfg(test)]
mod properties {
    use super::*;
    use capecontrol_shared::arbitrary::{check_parsed, config, json_request, request};
    use capecontrol_shared::http::ApiError;
    use proptest::prelude::*;

    fn rejected(error: &ResetError) -> Option<&ApiError> {
        match error {
            ResetError::Rejected(refusal) => Some(refusal),
            _ => None,
        }
    }

    fn check<T>(parsed: Result<T, ResetError>) -> Result<(), TestCaseError> {
        check_parsed(parsed, rejected).map(drop)
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn any_password_request_body_parses_or_is_refused_as_documented(
            any in request("/auth/password-reset"),
            reset in json_request("/auth/password-reset", &["email"]),
            confirm in json_request("/auth/password-reset/confirm", &["token", "new_password"]),
            change in json_request("/auth/password/change", &["current_password", "new_password"]),
        ) {
            check(request::parse_email(&any))?;
            check(request::parse_email(&reset))?;
            check(confirm::parse(&any))?;
            check(confirm::parse(&confirm))?;
            check(change::parse(&change))?;
        }
    }
}
