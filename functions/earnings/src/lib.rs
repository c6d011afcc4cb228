//! Developer earnings: an exact, idempotent revenue-share ledger, one function for six routes.
//!
//! - `GET /earnings`: the caller's records with totals per currency (admins: any developer's);
//! - `GET /earnings/{agent_id}`: one record and its entries, newest first;
//! - `POST /earnings/agents`: opens a record for a new agent;
//! - `POST /earnings/sales`, `POST /earnings/payouts` (admins): credit a sale, pay out;
//! - `PATCH /earnings/{agent_id}` (admins): commission rate and active flag.
//!
//! Every route reads the caller's user item (role, verification, token version) before it
//! acts. Every write is one transaction that checks the record's version, so no change is
//! lost between its read and its write.

mod access;
mod agents;
mod change;
mod error;
mod form;
mod ledger;
mod read;
mod records;
mod view;

use capecontrol_shared::http::{self, ApiError};
use capecontrol_shared::request_meta::RequestMeta;
use capecontrol_shared::state::AppState;
use capecontrol_shared::store::earnings::EntryKind;
use lambda_http::http::{HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};

pub use error::EarningsError;

pub const LIST_ENDPOINT: &str = "GET /earnings";
pub const RECORD_ENDPOINT: &str = "GET /earnings/{agent_id}";
pub const AGENTS_ENDPOINT: &str = "POST /earnings/agents";
pub const SALES_ENDPOINT: &str = "POST /earnings/sales";
pub const PAYOUTS_ENDPOINT: &str = "POST /earnings/payouts";
pub const CHANGE_ENDPOINT: &str = "PATCH /earnings/{agent_id}";

/// What a route produced: a status and a JSON body (kept as text, so that an idempotent
/// replay sends exactly the bytes of the first answer).
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: StatusCode,
    pub body: String,
    pub replayed: bool,
}

impl Answer {
    pub fn json(status: StatusCode, body: &serde_json::Value) -> Self {
        Self {
            status,
            body: body.to_string(),
            replayed: false,
        }
    }

    fn into_response(self, request_id: &str) -> Response<Body> {
        let mut response = capecontrol_shared::http::json_response(self.status, &(), request_id);
        *response.body_mut() = Body::Text(self.body);
        if self.replayed {
            let replayed = HeaderValue::from_static("true");
            response
                .headers_mut()
                .insert("idempotent-replayed", replayed);
        }
        response
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    List,
    Record(String),
    CreateAgent,
    Sales,
    Payouts,
    Change(String),
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
        Route::List => read::list(state, &request).await,
        Route::Record(agent) => read::record(state, &request, &agent).await,
        Route::CreateAgent => agents::create(state, &request, &meta).await,
        Route::Sales => ledger::post_entry(state, &request, &meta, EntryKind::Sale).await,
        Route::Payouts => ledger::post_entry(state, &request, &meta, EntryKind::Payout).await,
        Route::Change(agent) => change::change(state, &request, &meta, &agent).await,
    };
    match outcome {
        Ok(answer) => answer.into_response(&meta.request_id),
        Err(error) => error.into_api_error().into_response(&meta.request_id),
    }
}

fn endpoint(route: &Route) -> &'static str {
    match route {
        Route::List => LIST_ENDPOINT,
        Route::Record(_) => RECORD_ENDPOINT,
        Route::CreateAgent => AGENTS_ENDPOINT,
        Route::Sales => SALES_ENDPOINT,
        Route::Payouts => PAYOUTS_ENDPOINT,
        Route::Change(_) => CHANGE_ENDPOINT,
    }
}

/// The route from the method and the path after the last `earnings` segment (API Gateway may
/// leave a stage prefix before it). The agent id comes from API Gateway's path parameters
/// when it sends them, else from the path itself (function URLs and the local router).
fn route(request: &Request) -> Result<Route, ApiError> {
    let path = request.uri().path().trim_end_matches('/');
    let segments: Vec<&str> = path.split('/').collect();
    let base = segments
        .iter()
        .rposition(|s| *s == "earnings")
        .filter(|at| segments.len() - at <= 2)
        .ok_or_else(ApiError::not_found)?;
    let method = request.method();
    let Some(tail) = segments.get(base + 1) else {
        return http::route_for(method, &[(Method::GET, Route::List)]);
    };
    let agent = request
        .path_parameters_ref()
        .and_then(|params| params.first("agent_id"))
        .unwrap_or(tail)
        .to_owned();
    match *tail {
        "agents" => http::route_for(method, &[(Method::POST, Route::CreateAgent)]),
        "sales" => http::route_for(method, &[(Method::POST, Route::Sales)]),
        "payouts" => http::route_for(method, &[(Method::POST, Route::Payouts)]),
        _ => http::route_for(
            method,
            &[
                (Method::GET, Route::Record(agent.clone())),
                (Method::PATCH, Route::Change(agent)),
            ],
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::Request as HttpRequest;

    fn at(method: &str, path: &str) -> Result<Route, u16> {
        let request: Request = HttpRequest::builder()
            .method(method)
            .uri(path)
            .body(Body::Empty)
            .expect("request");
        route(&request).map_err(|e| e.status.as_u16())
    }

    #[test]
    fn every_route_is_found_with_or_without_a_stage_prefix() {
        assert_eq!(at("GET", "/earnings"), Ok(Route::List));
        assert_eq!(at("GET", "/prod/earnings/"), Ok(Route::List));
        assert_eq!(at("POST", "/earnings/agents"), Ok(Route::CreateAgent));
        assert_eq!(at("POST", "/earnings/sales"), Ok(Route::Sales));
        assert_eq!(at("POST", "/earnings/payouts"), Ok(Route::Payouts));
        assert_eq!(at("GET", "/earnings/a-1"), Ok(Route::Record("a-1".into())));
        assert_eq!(
            at("PATCH", "/earnings/a-1"),
            Ok(Route::Change("a-1".into()))
        );
    }

    #[test]
    fn other_methods_are_405_and_other_paths_404() {
        assert_eq!(at("POST", "/earnings"), Err(405));
        assert_eq!(at("GET", "/earnings/sales"), Err(405));
        assert_eq!(at("DELETE", "/earnings/a-1"), Err(405));
        assert_eq!(at("GET", "/earnings/a-1/entries"), Err(404));
        assert_eq!(at("GET", "/auth/login"), Err(404));
    }
}
