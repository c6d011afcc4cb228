//! Request decoding never panics: API Gateway and function URL events (the checked-in
//! fixtures) carrying arbitrary bodies, base64 flags, content types and authorization headers
//! go through lambda_http's event parser and then the shared HTTP boundary, which answers each
//! with an object or one of its documented refusals. Pure parsing: no handler, no network.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use capecontrol_shared::arbitrary::{check_refusal, config, json};
use capecontrol_shared::http::{bearer_token, json_object};
use capecontrol_shared::request_meta::RequestMeta;
use capecontrol_tests::{Event, EventKind};
use proptest::prelude::*;

fn kind() -> impl Strategy<Value = EventKind> {
    prop::sample::select(EventKind::ALL.to_vec())
}

/// A body and its `isBase64Encoded` flag. A flagged body is valid base64, as API Gateway
/// always encodes it: lambda_http's event parser panics on invalid base64 (documented in
/// aws_lambda_events' `Body::from_maybe_encoded`), an input only a broken gateway could send.
fn body() -> impl Strategy<Value = (String, bool)> {
    let text = prop_oneof![".{0,200}", json().prop_map(|v| v.to_string())];
    prop_oneof![
        text.clone().prop_map(|t| (t, false)),
        text.prop_map(|t| (STANDARD.encode(t), true)),
        prop::collection::vec(any::<u8>(), 0..120).prop_map(|b| (STANDARD.encode(b), true)),
    ]
}

fn header() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,60}",
        "(?i)(application/json|text/plain)(; ?charset=[a-z0-9-]{0,8})?",
        "(?i)(bearer|basic) ?[ -~]{0,40}",
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_event_decodes_to_an_object_or_a_documented_refusal(
        kind in kind(),
        (body, base64) in body(),
        content_type in prop::option::of(header()),
        authorization in prop::option::of(header()),
    ) {
        let mut event = Event::new(kind, "/auth/login")
            .expect("fixture")
            .raw_body(&body, base64);
        event = match &content_type {
            Some(value) => event.header("content-type", value),
            None => event.without_header("content-type"),
        };
        if let Some(value) = &authorization {
            event = event.header("authorization", value);
        }
        // An event lambda_http cannot read is refused by the runtime, not by our code.
        let Ok(request) = event.request() else {
            return Ok(());
        };
        if let Err(error) = json_object(&request) {
            check_refusal(&error)?;
        }
        if let Some(token) = bearer_token(&request) {
            prop_assert!(!token.is_empty() && token == token.trim());
        }
        let meta = RequestMeta::from_request(&request, "POST /auth/login");
        prop_assert!(!meta.request_id.is_empty());
    }
}
