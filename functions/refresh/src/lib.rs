//! Session tokens after login, one function for three routes:
//! - `POST /auth/refresh {refresh_token}` rotates the token (see [`rotate`]);
//! - `POST /auth/logout {refresh_token}` revokes that token's session;
//! - `POST /auth/logout-all` (access token) revokes every session of the user and every access
//!   token issued before, by bumping the user's token version.

mod error;
mod logout;
mod rotate;

use capecontrol_shared::http;
use capecontrol_shared::state::AppState;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

pub use error::RefreshError;

pub const REFRESH_ENDPOINT: &str = "POST /auth/refresh";
pub const LOGOUT_ENDPOINT: &str = "POST /auth/logout";
pub const LOGOUT_ALL_ENDPOINT: &str = "POST /auth/logout-all";

const ROUTES: [(&str, &str); 3] = [
    ("/auth/logout-all", LOGOUT_ALL_ENDPOINT),
    ("/auth/logout", LOGOUT_ENDPOINT),
    ("/auth/refresh", REFRESH_ENDPOINT),
];

pub async fn handle(state: &AppState, request: Request) -> Response<Body> {
    let (endpoint, meta) = match http::dispatch(&request, &ROUTES) {
        Ok(found) => found,
        Err(answer) => return *answer,
    };
    let outcome = match endpoint {
        REFRESH_ENDPOINT => rotate::refresh(state, &request, &meta)
            .await
            .map(|tokens| http::json_response(StatusCode::OK, &tokens, &meta.request_id)),
        LOGOUT_ENDPOINT => logout::logout(state, &request, &meta)
            .await
            .map(|()| http::empty_response(StatusCode::NO_CONTENT, &meta.request_id)),
        _ => logout::logout_all(state, &request, &meta)
            .await
            .map(|()| http::empty_response(StatusCode::NO_CONTENT, &meta.request_id)),
    };
    outcome.unwrap_or_else(|error| error.into_api_error().into_response(&meta.request_id))
}

#[cfg(test)]
mod properties {
    use super::*;
    use capecontrol_shared::arbitrary::{check_parsed, config, json_request, request};
    use capecontrol_shared::http::ApiError;
    use proptest::prelude::*;

    fn rejected(error: &RefreshError) -> Option<&ApiError> {
        match error {
            RefreshError::Rejected(refusal) => Some(refusal),
            _ => None,
        }
    }

    fn check(request: &Request) -> Result<(), TestCaseError> {
        check_parsed(rotate::parse_refresh_token(request), rejected).map(drop)
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn any_refresh_or_logout_body_parses_or_is_refused_as_documented(
            any in request("/auth/refresh"),
            json in json_request("/auth/logout", &["refresh_token"]),
        ) {
            check(&any)?;
            check(&json)?;
        }
    }
}
