//! proptest strategies for the property tests of every crate (test support only): arbitrary
//! JSON, JSON objects that mix an endpoint's own field names with junk, header values, and
//! requests built from them as lambda_http hands them to a handler.

use crate::fields::{FIELD_CODES, MAX_REPORTED};
use crate::http::ApiError;
use lambda_http::http::{HeaderValue, Request as HttpRequest};
use lambda_http::{Body, Request};
use proptest::prelude::*;
use serde_json::{Map, Value};

/// Cases per property: enough to find the edge cases of these small parsers, few enough that
/// `make test` stays fast on two cores.
pub const CASES: u32 = 256;

/// [`CASES`] cases; a failure is reported with its shrunk input, not written into the tree.
pub fn config() -> ProptestConfig {
    ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Any JSON value, a few levels deep.
pub fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,40}".prop_map(Value::String),
        "[0-9]{1,12}(\\.[0-9]{0,6})?".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(".{0,12}", inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// A JSON object whose keys are mostly `fields` (the endpoint's own names), some junk, with
/// arbitrary values: the bodies most likely to reach a parser's every branch.
pub fn object_with(fields: &'static [&'static str]) -> impl Strategy<Value = Map<String, Value>> {
    let name = prop_oneof![
        4 => prop::sample::select(fields).prop_map(str::to_owned),
        1 => ".{0,12}",
    ];
    let value = prop_oneof![
        3 => json(),
        2 => ".{0,40}".prop_map(Value::String),
    ];
    prop::collection::btree_map(name, value, 0..10).prop_map(|map| map.into_iter().collect())
}

/// Header text as clients send it: any bytes a header value may hold.
pub fn header_value() -> impl Strategy<Value = HeaderValue> {
    let text = prop_oneof![
        ".{0,60}".boxed(),
        "(?i)(application/json|text/plain|bearer|basic)[ ;a-z=0-9-]{0,20}".boxed(),
    ];
    let bytes = prop_oneof![
        text.prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..40),
    ];
    bytes.prop_filter_map("not a header value", |b| HeaderValue::from_bytes(&b).ok())
}

/// A body as lambda_http delivers it: empty, text or (decoded) binary.
pub fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        Just(Body::Empty),
        ".{0,200}".prop_map(Body::Text),
        json().prop_map(|v| Body::Text(v.to_string())),
        prop::collection::vec(any::<u8>(), 0..200).prop_map(Body::Binary),
    ]
}

/// A request with `method` and `path` and no body, as a router sees it.
pub fn bare_request(method: &str, path: &str) -> Request {
    HttpRequest::builder()
        .method(method)
        .uri(path)
        .body(Body::Empty)
        .unwrap_or_default()
}

/// A request to `path` with any method, content type, authorization and body.
pub fn request(path: &'static str) -> impl Strategy<Value = Request> {
    let method = prop::sample::select(&["GET", "POST", "PATCH", "PUT", "DELETE"][..]);
    let header = || prop::option::of(header_value());
    (method, header(), header(), body()).prop_map(move |(method, kind, auth, body)| {
        let mut request = HttpRequest::builder()
            .method(method)
            .uri(path)
            .body(body)
            .unwrap_or_default();
        let headers = request.headers_mut();
        if let Some(kind) = kind {
            headers.insert("content-type", kind);
        }
        if let Some(auth) = auth {
            headers.insert("authorization", auth);
        }
        request
    })
}

/// A JSON request to `path` whose body is an object like [`object_with`] makes.
pub fn json_request(
    path: &'static str,
    fields: &'static [&'static str],
) -> impl Strategy<Value = Request> {
    object_with(fields).prop_map(move |object| {
        HttpRequest::builder()
            .method("POST")
            .uri(path)
            .header("content-type", "application/json")
            .body(Body::Text(Value::Object(object).to_string()))
            .unwrap_or_default()
    })
}

/// A parser's refusal is one the boundary documents: 400, 413, 415 or a 422 listing 1 to 25
/// fields, each with a known field code.
pub fn check_refusal(error: &ApiError) -> Result<(), TestCaseError> {
    let status = error.status.as_u16();
    prop_assert!(
        [400, 413, 415, 422].contains(&status),
        "{} {}",
        status,
        error.code
    );
    if status == 422 {
        prop_assert_eq!(error.code, "validation_failed");
        prop_assert!((1..=MAX_REPORTED).contains(&error.fields.len()));
        for field in &error.fields {
            prop_assert!(FIELD_CODES.contains(&field.code), "{:?}", field);
        }
    }
    Ok(())
}

/// A parser's result checked: its value, or None after [`check_refusal`] passed its refusal.
/// `rejected` takes the refusal out of the function's own error; an error that is no refusal
/// (parsing alone never answers 401 or 500) fails the property.
pub fn check_parsed<T, E: std::fmt::Debug>(
    parsed: Result<T, E>,
    rejected: fn(&E) -> Option<&ApiError>,
) -> Result<Option<T>, TestCaseError> {
    match parsed {
        Ok(value) => Ok(Some(value)),
        Err(error) => match rejected(&error) {
            Some(refusal) => check_refusal(refusal).map(|()| None),
            None => Err(TestCaseError::fail(format!(
                "parsing alone answered {error:?}"
            ))),
        },
    }
}
