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
    use capecontrol_shared::arbitrary::bare_request;

    fn at(method: &str, path: &str) -> Result<Route, u16> {
        route(&bare_request(method, path)).map_err(|e| e.status.as_u16())
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

#[cfg(test)]
mod properties {
    use super::*;
    use capecontrol_shared::arbitrary::{
        bare_request, check_parsed, config, json_request, request,
    };
    use lambda_http::http::Request as HttpRequest;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn check<T>(parsed: Result<T, ApiError>) -> Result<Option<T>, TestCaseError> {
        check_parsed(parsed, |error| Some(error))
    }

    fn with_limit(limit: Option<String>) -> Request {
        let request: Request = HttpRequest::builder()
            .uri("/earnings")
            .body(Body::Empty)
            .unwrap_or_default();
        let query: HashMap<String, String> =
            limit.into_iter().map(|l| ("limit".into(), l)).collect();
        request.with_query_string_parameters(query)
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn any_path_and_method_is_a_route_or_a_404_or_405(
            path in "(/prod)?/(earnings|x)(/[A-Za-z0-9._-]{0,12}){0,2}/?",
            method in prop::sample::select(&["GET", "POST", "PATCH", "PUT", "DELETE"][..]),
        ) {
            match route(&bare_request(method, &path)) {
                Ok(Route::Record(agent) | Route::Change(agent)) => {
                    let last = path.trim_end_matches('/').rsplit('/').next().unwrap_or_default();
                    prop_assert_eq!(agent.as_str(), last);
                }
                Ok(_) => {}
                Err(error) => prop_assert!([404, 405].contains(&error.status.as_u16())),
            }
        }

        #[test]
        fn any_earnings_body_parses_or_is_refused_as_documented(
            any in request("/earnings/sales"),
            agent in json_request("/earnings/agents",
                &["agent_id", "agent_name", "currency", "developer_id"]),
            change in json_request("/earnings/a-1", &["commission_rate", "is_active"]),
            sale in json_request("/earnings/sales",
                &["developer_id", "agent_id", "sale_id", "amount", "currency"]),
            payout in json_request("/earnings/payouts",
                &["developer_id", "agent_id", "payout_id", "amount"]),
        ) {
            check(agents::parse(&any))?;
            if let Some(agent) = check(agents::parse(&agent))? {
                prop_assert!(agent.agent_name.is_none_or(|n| n.chars().count() <= 255));
            }
            if let Some(change) = check(change::parse(&change))? {
                prop_assert!(change.commission_rate.is_some() || change.is_active.is_some());
            }
            for (body, kind) in [(&any, EntryKind::Sale), (&sale, EntryKind::Sale),
                                 (&payout, EntryKind::Payout)] {
                let _ = check(ledger::parse(body, kind))?;
            }
        }

        #[test]
        fn a_limit_is_one_to_a_hundred_or_a_field_error(
            limit in prop::option::of(".{0,6}|[0-9]{1,4}")
        ) {
            match records::page_size(&with_limit(limit.clone())) {
                Ok(size) => {
                    prop_assert!((1..=records::MAX_PAGE).contains(&size));
                    let expected = limit.map_or(records::DEFAULT_PAGE, |l| l.parse().unwrap_or(0));
                    prop_assert_eq!(size, expected);
                }
                Err(error) => {
                    let error = error.into_api_error();
                    prop_assert_eq!(error.fields[0].code, "invalid_limit");
                }
            }
        }
    }
}
