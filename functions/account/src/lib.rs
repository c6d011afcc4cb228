//! The signed-in user's own account, one function for six routes:
//! - `GET /users/me`, `PATCH /users/me`: the profile (see [`profile`]);
//! - `GET /auth/sessions`, `DELETE /auth/sessions/{id}`: live sessions (see [`sessions`]);
//! - `GET /users/me/export`: everything stored about the user, in signed pages (see [`export`]);
//! - `DELETE /users/me {current_password}`: deletion and erasure (see [`delete`]).
//!
//! Every route reads the caller's user item (token version, active flag) before it acts.

mod delete;
mod error;
mod export;
mod profile;
mod sessions;

use capecontrol_shared::http::{self, ApiError};
use capecontrol_shared::request_meta::RequestMeta;
use capecontrol_shared::state::AppState;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::Value;

pub use error::AccountError;

pub const ME_ENDPOINT: &str = "GET /users/me";
pub const PATCH_ENDPOINT: &str = "PATCH /users/me";
pub const DELETE_ENDPOINT: &str = "DELETE /users/me";
pub const EXPORT_ENDPOINT: &str = "GET /users/me/export";
pub const SESSIONS_ENDPOINT: &str = "GET /auth/sessions";
pub const REVOKE_ENDPOINT: &str = "DELETE /auth/sessions/{id}";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    Me,
    Patch,
    Delete,
    Export,
    Sessions,
    Revoke(String),
}

/// What a route answers: a status and a body (none for 204).
type Answer = (StatusCode, Option<Value>);

pub async fn handle(state: &AppState, request: Request) -> Response<Body> {
    let route = match route(&request) {
        Ok(route) => route,
        Err(error) => {
            let meta = RequestMeta::from_request(&request, "unknown");
            return error.into_response(&meta.request_id);
        }
    };
    let meta = RequestMeta::from_request(&request, endpoint(&route));
    let outcome = match route {
        Route::Me => profile::show(state, &request).await,
        Route::Patch => profile::change(state, &request, &meta).await,
        Route::Delete => delete::delete(state, &request, &meta).await,
        Route::Export => export::page(state, &request, &meta).await,
        Route::Sessions => sessions::list(state, &request).await,
        Route::Revoke(id) => sessions::revoke(state, &request, &meta, &id).await,
    };
    match outcome {
        Ok((status, Some(body))) => http::json_response(status, &body, &meta.request_id),
        Ok((status, None)) => http::empty_response(status, &meta.request_id),
        Err(error) => error.into_api_error().into_response(&meta.request_id),
    }
}

fn endpoint(route: &Route) -> &'static str {
    match route {
        Route::Me => ME_ENDPOINT,
        Route::Patch => PATCH_ENDPOINT,
        Route::Delete => DELETE_ENDPOINT,
        Route::Export => EXPORT_ENDPOINT,
        Route::Sessions => SESSIONS_ENDPOINT,
        Route::Revoke(_) => REVOKE_ENDPOINT,
    }
}

/// The route from the method and the path's last segments (API Gateway may leave a stage
/// prefix before them). The session id comes from API Gateway's path parameters when it sends
/// them, else from the path itself (function URLs and the local router).
fn route(request: &Request) -> Result<Route, ApiError> {
    let path = request.uri().path().trim_end_matches('/');
    let method = request.method();
    if path.ends_with("/users/me/export") {
        return http::route_for(method, &[(Method::GET, Route::Export)]);
    }
    if path.ends_with("/users/me") {
        let allowed = [
            (Method::GET, Route::Me),
            (Method::PATCH, Route::Patch),
            (Method::DELETE, Route::Delete),
        ];
        return http::route_for(method, &allowed);
    }
    if path.ends_with("/auth/sessions") {
        return http::route_for(method, &[(Method::GET, Route::Sessions)]);
    }
    let (parent, last) = path.rsplit_once('/').ok_or_else(ApiError::not_found)?;
    if !parent.ends_with("/auth/sessions") || last.is_empty() {
        return Err(ApiError::not_found());
    }
    let id = request
        .path_parameters_ref()
        .and_then(|params| params.first("id"))
        .unwrap_or(last)
        .to_owned();
    http::route_for(method, &[(Method::DELETE, Route::Revoke(id))])
}

#[cfg(test)]
mod tests {
    use super::*;
    use capecontrol_shared::arbitrary::bare_request;

    fn at(method: &str, path: &str) -> Result<Route, u16> {
        route(&bare_request(method, path)).map_err(|e| e.status.as_u16())
    }

    #[test]
    fn every_route_is_found_with_or_without_a_stage_prefix() {
        assert_eq!(at("GET", "/users/me"), Ok(Route::Me));
        assert_eq!(at("PATCH", "/prod/users/me/"), Ok(Route::Patch));
        assert_eq!(at("DELETE", "/users/me"), Ok(Route::Delete));
        assert_eq!(at("GET", "/users/me/export"), Ok(Route::Export));
        assert_eq!(at("GET", "/auth/sessions"), Ok(Route::Sessions));
        assert_eq!(
            at("DELETE", "/auth/sessions/f-1"),
            Ok(Route::Revoke("f-1".into()))
        );
    }

    #[test]
    fn other_methods_are_405_and_other_paths_404() {
        assert_eq!(at("POST", "/users/me"), Err(405));
        assert_eq!(at("DELETE", "/users/me/export"), Err(405));
        assert_eq!(at("GET", "/auth/sessions/f-1"), Err(405));
        assert_eq!(at("DELETE", "/auth/sessions/f-1/x"), Err(404));
        assert_eq!(at("GET", "/users/you"), Err(404));
    }
}
