//! The HTTP boundary every function shares: JSON request bodies in, JSON responses and errors
//! out, each response tagged with the request id.

use crate::fields::FieldError;
use crate::throttle::RetryAfter;
use lambda_http::http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde_json::{json, Map, Value};

pub const MAX_BODY_BYTES: usize = 16 * 1024;
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// An error as the client sees it: a status, a stable machine-readable code and a message that
/// holds no internal detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: &'static str,
    pub fields: Vec<FieldError>,
    /// Sent as the `Retry-After` header (429 answers).
    pub retry_after: Option<RetryAfter>,
}

impl ApiError {
    pub const fn new(status: StatusCode, code: &'static str, message: &'static str) -> Self {
        Self {
            status,
            code,
            message,
            fields: Vec::new(),
            retry_after: None,
        }
    }

    pub fn with_retry_after(mut self, retry_after: RetryAfter) -> Self {
        self.retry_after = Some(retry_after);
        self
    }

    pub fn validation(fields: Vec<FieldError>) -> Self {
        Self {
            fields,
            ..Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "The request does not fit this endpoint; see the errors of each field.",
            )
        }
    }

    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send the body as application/json.",
        )
    }

    pub fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "The body exceeds 16 KiB.",
        )
    }

    pub fn malformed_json() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "The body is not valid JSON.",
        )
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_access_token",
            "A valid access token is required.",
        )
    }

    /// A listing's cursor that this listing did not issue (edited, from other filters or
    /// another listing, or signed with a key no longer kept).
    pub fn invalid_cursor() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_cursor",
            "The cursor is not valid for this listing and its filters; start it again.",
        )
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "No such route.")
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "Use POST.",
        )
    }

    /// 405 for a route that exists but not with this method (multi-route functions).
    pub fn wrong_method() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "This route does not take that method.",
        )
    }

    pub fn service_unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            "The service is briefly unavailable; retry shortly.",
        )
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Something failed on our side.",
        )
    }

    pub fn body(&self) -> Value {
        let mut error = json!({ "code": self.code, "message": self.message });
        if !self.fields.is_empty() {
            error["fields"] = json!(self.fields);
        }
        json!({ "error": error })
    }

    pub fn into_response(self, request_id: &str) -> Response<Body> {
        let mut response = json_response(self.status, &self.body(), request_id);
        if self.code == "invalid_access_token" {
            response
                .headers_mut()
                .insert("www-authenticate", HeaderValue::from_static("Bearer"));
        }
        if let Some(retry_after) = self.retry_after {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(retry_after.seconds()));
        }
        response
    }
}

/// A JSON response. `Cache-Control: no-store` on everything: these answers carry tokens or
/// account state, which no shared cache may keep.
pub fn json_response(
    status: StatusCode,
    body: &impl Serialize,
    request_id: &str,
) -> Response<Body> {
    let text = serde_json::to_string(body).unwrap_or_else(|_| "{}".to_owned());
    let mut response = Response::new(Body::Text(text));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert(REQUEST_ID_HEADER, value);
    }
    response
}

/// A response without a body.
pub fn empty_response(status: StatusCode, request_id: &str) -> Response<Body> {
    let mut response = json_response(status, &(), request_id);
    *response.body_mut() = Body::Empty;
    response.headers_mut().remove(CONTENT_TYPE);
    response
}

/// The request body as a JSON object: 415 unless the content type is `application/json` (any
/// case, any parameters), 413 over 16 KiB, 400 when it is not JSON, 422 when it is JSON but
/// not an object. Base64-encoded bodies arrive already decoded by lambda_http.
pub fn json_object(request: &Request) -> Result<Map<String, Value>, ApiError> {
    if !is_json_content_type(request) {
        return Err(ApiError::unsupported_media_type());
    }
    let bytes: &[u8] = match request.body() {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    };
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::payload_too_large());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::validation(vec![FieldError::new(
            "",
            "not_an_object",
            "The body must be a JSON object.",
        )])),
        Err(_) => Err(ApiError::malformed_json()),
    }
}

fn is_json_content_type(request: &Request) -> bool {
    let Some(value) = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
}

/// The bearer token of the Authorization header, if it has the right shape.
pub fn bearer_token(request: &Request) -> Option<&str> {
    let value = request.headers().get("authorization")?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// For a function serving several POST routes: the endpoint of `routes` (pairs of path suffix
/// and endpoint name, most specific first) the request targets, with its metadata; or the 404
/// or 405 answer to send instead.
pub fn dispatch(
    request: &Request,
    routes: &[(&str, &'static str)],
) -> Result<(&'static str, crate::request_meta::RequestMeta), Box<Response<Body>>> {
    use crate::request_meta::RequestMeta;
    let Some(endpoint) = routes
        .iter()
        .find(|(path, _)| path_ends_with(request, path))
        .map(|(_, endpoint)| *endpoint)
    else {
        let meta = RequestMeta::from_request(request, "unknown");
        return Err(Box::new(
            ApiError::not_found().into_response(&meta.request_id),
        ));
    };
    let meta = RequestMeta::from_request(request, endpoint);
    if request.method() != lambda_http::http::Method::POST {
        return Err(Box::new(
            ApiError::method_not_allowed().into_response(&meta.request_id),
        ));
    }
    Ok((endpoint, meta))
}

/// For a function whose routes share a path: the route `method` selects among `allowed`, or
/// 405 `method_not_allowed`.
pub fn route_for<R: Clone>(
    method: &lambda_http::http::Method,
    allowed: &[(lambda_http::http::Method, R)],
) -> Result<R, ApiError> {
    allowed
        .iter()
        .find(|(m, _)| m == method)
        .map(|(_, route)| route.clone())
        .ok_or(ApiError::wrong_method())
}

/// The route a request targets, whatever stage prefix API Gateway left in the path. `route`
/// starts with `/`, so a match always begins at a segment boundary.
pub fn path_ends_with(request: &Request, route: &str) -> bool {
    request.uri().path().trim_end_matches('/').ends_with(route)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::Request as HttpRequest;

    fn request(content_type: Option<&str>, body: Body) -> Request {
        let mut builder = HttpRequest::builder()
            .method("POST")
            .uri("https://x/auth/login");
        if let Some(value) = content_type {
            builder = builder.header(CONTENT_TYPE, value);
        }
        builder.body(body).expect("request")
    }

    fn code(result: Result<Map<String, Value>, ApiError>) -> (u16, &'static str) {
        let error = result.expect_err("an error");
        (error.status.as_u16(), error.code)
    }

    #[test]
    fn json_content_type_matches_any_case_and_parameters() {
        for value in [
            "application/json",
            "Application/JSON; charset=utf-8",
            " application/json ;x=y",
        ] {
            let parsed = json_object(&request(Some(value), Body::Text("{}".into())));
            assert!(parsed.is_ok(), "{value} refused");
        }
    }

    #[test]
    fn other_or_missing_content_types_are_415() {
        for value in [
            Some("text/plain"),
            Some("application/jsonx"),
            Some("multipart/form-data"),
            None,
        ] {
            let result = json_object(&request(value, Body::Text("{}".into())));
            assert_eq!(code(result), (415, "unsupported_media_type"));
        }
    }

    #[test]
    fn bodies_over_16_kib_are_413() {
        let body = format!("{{\"a\":\"{}\"}}", "x".repeat(MAX_BODY_BYTES));
        let result = json_object(&request(Some("application/json"), Body::Text(body)));
        assert_eq!(code(result), (413, "payload_too_large"));
    }

    #[test]
    fn a_body_that_is_not_json_is_400_and_json_that_is_not_an_object_is_422() {
        for text in ["", "{", "{\"a\":}", "nul"] {
            let result = json_object(&request(Some("application/json"), Body::Text(text.into())));
            assert_eq!(code(result), (400, "malformed_json"), "{text:?}");
        }
        for text in ["[]", "\"s\"", "3", "null"] {
            let result = json_object(&request(Some("application/json"), Body::Text(text.into())));
            assert_eq!(code(result), (422, "validation_failed"), "{text:?}");
        }
    }

    #[test]
    fn binary_bodies_are_read_like_text() {
        let parsed = json_object(&request(
            Some("application/json"),
            Body::Binary(b"{\"a\":1}".to_vec()),
        ));
        assert_eq!(parsed.expect("object")["a"], 1);
    }

    #[test]
    fn error_responses_carry_code_message_request_id_and_no_store() {
        let response = ApiError::unauthorized().into_response("req-1");
        assert_eq!(response.status(), 401);
        assert_eq!(response.headers()[REQUEST_ID_HEADER], "req-1");
        assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        let Body::Text(text) = response.body() else {
            panic!("text body")
        };
        let body: Value = serde_json::from_str(text).expect("json");
        assert_eq!(body["error"]["code"], "invalid_access_token");
        assert!(body["error"]["message"].is_string());
    }

    #[test]
    fn a_retry_after_is_sent_as_whole_seconds_in_its_header() {
        let wait = RetryAfter::from_duration(time::Duration::milliseconds(1_500));
        let error = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts", "Wait.");
        let response = error.with_retry_after(wait).into_response("req-2");
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()[RETRY_AFTER], "2");
        let plain = ApiError::internal().into_response("req-3");
        assert!(!plain.headers().contains_key(RETRY_AFTER));
    }

    #[test]
    fn bearer_tokens_are_taken_only_from_the_bearer_scheme() {
        let with = |value: &str| {
            HttpRequest::builder()
                .header("authorization", value)
                .body(Body::Empty)
                .expect("req")
        };
        assert_eq!(bearer_token(&with("Bearer abc")), Some("abc"));
        assert_eq!(bearer_token(&with("bearer  abc ")), Some("abc"));
        assert_eq!(bearer_token(&with("Basic abc")), None);
        assert_eq!(bearer_token(&with("Bearer ")), None);
    }

    #[test]
    fn routes_match_with_or_without_a_stage_prefix() {
        let at = |path: &str| {
            HttpRequest::builder()
                .uri(path)
                .body(Body::Empty)
                .expect("req")
        };
        assert!(path_ends_with(&at("/auth/logout"), "/auth/logout"));
        assert!(path_ends_with(&at("/prod/auth/logout/"), "/auth/logout"));
        assert!(!path_ends_with(&at("/auth/logout-all"), "/auth/logout"));
        assert!(!path_ends_with(&at("/xauth/logout"), "/auth/logout"));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::arbitrary::{config, request};
    use crate::request_meta::RequestMeta;
    use proptest::prelude::*;

    /// The statuses and codes the body parser may answer with.
    const REFUSALS: [(u16, &str); 4] = [
        (415, "unsupported_media_type"),
        (413, "payload_too_large"),
        (400, "malformed_json"),
        (422, "validation_failed"),
    ];

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn any_request_is_an_object_or_one_of_four_refusals(request in request("/auth/login")) {
            match json_object(&request) {
                Ok(_) => prop_assert!(is_json_content_type(&request)),
                Err(error) => {
                    let answer = (error.status.as_u16(), error.code);
                    prop_assert!(REFUSALS.contains(&answer), "{:?}", answer);
                    prop_assert_eq!(error.fields.is_empty(), answer.0 != 422);
                    let response = error.into_response("req");
                    prop_assert!(response.headers().contains_key(REQUEST_ID_HEADER));
                }
            }
        }

        #[test]
        fn a_bearer_token_is_trimmed_and_never_empty(request in request("/auth/logout-all")) {
            if let Some(token) = bearer_token(&request) {
                prop_assert!(!token.is_empty());
                prop_assert_eq!(token, token.trim());
            }
            let meta = RequestMeta::from_request(&request, "test");
            prop_assert!(!meta.request_id.is_empty());
            prop_assert!(meta.user_agent.as_ref().is_none_or(|ua| ua.chars().count() <= 500));
        }

        #[test]
        fn dispatch_finds_a_route_or_answers_404_or_405(
            path in "(/prod)?/auth/(logout-all|logout|refresh|x|)/?",
            request in request("/"),
        ) {
            let (mut parts, body) = request.into_parts();
            parts.uri = path.parse().unwrap_or_default();
            let request = Request::from_parts(parts, body);
            let routes = [("/auth/logout-all", "all"), ("/auth/logout", "one")];
            match dispatch(&request, &routes) {
                Ok((endpoint, _)) => {
                    prop_assert_eq!(request.method(), lambda_http::http::Method::POST);
                    let route = if endpoint == "all" { "/auth/logout-all" } else { "/auth/logout" };
                    prop_assert!(path.trim_end_matches('/').ends_with(route));
                }
                Err(answer) => prop_assert!([404, 405].contains(&answer.status().as_u16())),
            }
        }
    }
}
