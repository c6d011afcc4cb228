//! Admin routes, one function for three:
//!
//! - `GET /admin/users`: accounts by role, state and creation time, newest first;
//! - `PATCH /admin/users/{id}`: a user's role or active state, never leaving zero active admins;
//! - `GET /admin/audit`: the audit trail by user, event type, outcome and time, newest first.
//!
//! The caller's role comes from their user item, not the token. Every listing is a Query on an
//! index, never a Scan, paginated by signed cursors; every action writes an audit entry with
//! the acting admin's id.

mod access;
mod audit;
mod change;
mod error;
mod page;
mod users;

use capecontrol_shared::http::{self, ApiError};
use capecontrol_shared::request_meta::RequestMeta;
use capecontrol_shared::state::AppState;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};

pub use error::AdminError;

pub const USERS_ENDPOINT: &str = "GET /admin/users";
pub const CHANGE_ENDPOINT: &str = "PATCH /admin/users/{id}";
pub const AUDIT_ENDPOINT: &str = "GET /admin/audit";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    Users,
    Change(String),
    Audit,
}

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
        Route::Users => users::list(state, &request, &meta).await,
        Route::Change(id) => change::change(state, &request, &meta, &id).await,
        Route::Audit => audit::query(state, &request, &meta).await,
    };
    match outcome {
        Ok(body) => http::json_response(StatusCode::OK, &body, &meta.request_id),
        Err(error) => error.into_api_error().into_response(&meta.request_id),
    }
}

fn endpoint(route: &Route) -> &'static str {
    match route {
        Route::Users => USERS_ENDPOINT,
        Route::Change(_) => CHANGE_ENDPOINT,
        Route::Audit => AUDIT_ENDPOINT,
    }
}

/// The route from the method and the path after an `admin` segment (API Gateway may leave a
/// stage prefix before it, which may itself be `admin`): the first such segment whose tail is
/// a route, so that a user id spelled `admin` is still a user id. The user id comes from API
/// Gateway's path parameters when it sends them, else from the path itself (function URLs and
/// the local router).
fn route(request: &Request) -> Result<Route, ApiError> {
    let path = request.uri().path().trim_end_matches('/');
    let segments: Vec<&str> = path.split('/').collect();
    let (method, wanted) = segments
        .iter()
        .enumerate()
        .filter(|(_, s)| **s == "admin")
        .find_map(|(base, _)| wanted(request, &segments[base + 1..]))
        .ok_or_else(ApiError::not_found)?;
    if request.method() == method {
        Ok(wanted)
    } else {
        Err(ApiError::wrong_method())
    }
}

/// The method and route of the path after `admin`, if it is one.
fn wanted(request: &Request, tail: &[&str]) -> Option<(Method, Route)> {
    match tail {
        ["users"] => Some((Method::GET, Route::Users)),
        ["audit"] => Some((Method::GET, Route::Audit)),
        ["users", id] => {
            let id = request
                .path_parameters_ref()
                .and_then(|params| params.first("id"))
                .unwrap_or(id);
            Some((Method::PATCH, Route::Change(id.to_owned())))
        }
        _ => None,
    }
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
        assert_eq!(at("GET", "/admin/users"), Ok(Route::Users));
        assert_eq!(at("GET", "/prod/admin/audit/"), Ok(Route::Audit));
        assert_eq!(
            at("PATCH", "/admin/users/u-1"),
            Ok(Route::Change("u-1".into()))
        );
    }

    #[test]
    fn other_methods_are_405_and_other_paths_404() {
        assert_eq!(at("POST", "/admin/users"), Err(405));
        assert_eq!(at("GET", "/admin/users/u-1"), Err(405));
        assert_eq!(at("DELETE", "/admin/audit"), Err(405));
        assert_eq!(at("GET", "/admin/users/u-1/x"), Err(404));
        assert_eq!(at("GET", "/admin"), Err(404));
        assert_eq!(at("GET", "/auth/login"), Err(404));
    }

    #[test]
    fn a_user_id_spelled_admin_and_a_stage_named_admin_still_route() {
        assert_eq!(
            at("PATCH", "/admin/users/admin"),
            Ok(Route::Change("admin".into()))
        );
        assert_eq!(at("GET", "/admin/admin/users"), Ok(Route::Users));
        assert_eq!(
            at("PATCH", "/admin/admin/users/admin"),
            Ok(Route::Change("admin".into()))
        );
    }
}
