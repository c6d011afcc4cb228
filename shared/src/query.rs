//! Query strings taken strictly: every key must be one the route knows and appear at most once.
//! lambda_http reads API Gateway HTTP API v2 and function URL events from `rawQueryString`
//! (their `queryStringParameters` join a repeated key's values with commas) and REST v1 events
//! from `multiValueQueryStringParameters`, so a repeated key arrives here as several values and
//! is refused, never silently joined. An empty value counts as absent (`?role=`).

use lambda_http::http::StatusCode;
use lambda_http::{Request, RequestExt};
use std::collections::BTreeMap;

use crate::http::ApiError;

/// The query parameters of a request, each known and single.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryParams {
    values: BTreeMap<&'static str, String>,
}

impl QueryParams {
    /// 400 `unknown_query_parameter` for a key outside `known`, 400 `repeated_query_parameter`
    /// for a key given twice.
    pub fn parse(request: &Request, known: &[&'static str]) -> Result<Self, ApiError> {
        let mut values = BTreeMap::new();
        let mut seen = BTreeMap::new();
        let Some(params) = request.query_string_parameters_ref() else {
            return Ok(Self { values });
        };
        for (key, value) in params.iter() {
            let name = known
                .iter()
                .find(|k| **k == key)
                .ok_or_else(unknown_parameter)?;
            if seen.insert(*name, ()).is_some() {
                return Err(repeated_parameter());
            }
            if !value.is_empty() {
                values.insert(*name, value.to_owned());
            }
        }
        Ok(Self { values })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }
}

fn unknown_parameter() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "unknown_query_parameter",
        "The query string has a parameter this route does not take.",
    )
}

fn repeated_parameter() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "repeated_query_parameter",
        "A query parameter is given more than once.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::request::from_str;
    use serde_json::json;

    fn v2(raw: &str) -> Request {
        let event = json!({
            "version": "2.0", "routeKey": "GET /admin/users", "rawPath": "/admin/users",
            "rawQueryString": raw, "headers": {},
            "queryStringParameters": {"role": "admin,customer"},
            "requestContext": {"http": {"method": "GET", "path": "/admin/users",
                "protocol": "HTTP/1.1", "sourceIp": "203.0.113.1", "userAgent": "t"},
                "accountId": "1", "apiId": "a", "domainName": "x", "domainPrefix": "x",
                "requestId": "r", "routeKey": "GET /admin/users", "stage": "$default",
                "time": "04/Dec/2026:13:00:00 +0000", "timeEpoch": 1},
            "isBase64Encoded": false
        });
        from_str(&event.to_string()).expect("event")
    }

    #[test]
    fn a_repeated_key_is_refused_even_where_the_gateway_joined_it_with_a_comma() {
        let error = QueryParams::parse(&v2("role=admin&role=customer"), &["role"]).unwrap_err();
        assert_eq!(
            (error.status.as_u16(), error.code),
            (400, "repeated_query_parameter")
        );
    }

    #[test]
    fn unknown_keys_are_refused_and_empty_values_are_absent() {
        let error = QueryParams::parse(&v2("rol=admin"), &["role"]).unwrap_err();
        assert_eq!(error.code, "unknown_query_parameter");
        let params = QueryParams::parse(&v2("role=&active=true"), &["role", "active"]);
        let params = params.expect("valid");
        assert_eq!(
            (params.get("role"), params.get("active")),
            (None, Some("true"))
        );
    }

    #[test]
    fn values_are_percent_decoded() {
        let params = QueryParams::parse(&v2("from=2026-12-04T00%3A00%3A00Z"), &["from"]);
        assert_eq!(
            params.expect("valid").get("from"),
            Some("2026-12-04T00:00:00Z")
        );
    }
}
