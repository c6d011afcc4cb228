//! The shared HTTP behaviour, seen through real handlers and event fixtures.

use base64::Engine as _;
use capecontrol_tests::{body_json, registration, Event, EventKind, TestStack};

async fn register_with(stack: &TestStack, event: Event) -> (u16, serde_json::Value, String) {
    let response = register::handle(&stack.state, event.request().expect("request")).await;
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    (response.status().as_u16(), body_json(&response), request_id)
}

fn event() -> Event {
    Event::new(EventKind::HttpApiV2, "/auth/register").expect("event")
}

#[tokio::test]
async fn a_base64_encoded_body_is_decoded() {
    let stack = TestStack::revealing().await.expect("stack");
    let body = registration("b64@example.com").to_string();
    let encoded = base64::engine::general_purpose::STANDARD.encode(body);
    let (status, json, _) = register_with(&stack, event().raw_body(&encoded, true)).await;
    assert_eq!(status, 201, "{json}");
}

#[tokio::test]
async fn content_type_size_and_syntax_errors_have_their_own_status_and_code() {
    let stack = TestStack::revealing().await.expect("stack");
    let valid = registration("x@example.com").to_string();
    let cases = [
        (
            event()
                .header("content-type", "text/plain")
                .raw_body(&valid, false),
            415,
            "unsupported_media_type",
        ),
        (
            event()
                .without_header("content-type")
                .raw_body(&valid, false),
            415,
            "unsupported_media_type",
        ),
        (
            event().raw_body(&"x".repeat(17 * 1024), false),
            413,
            "payload_too_large",
        ),
        (
            event().raw_body("{\"email\":", false),
            400,
            "malformed_json",
        ),
        (event().raw_body("[1,2]", false), 422, "validation_failed"),
    ];
    for (event, status, code) in cases {
        let (got, json, _) = register_with(&stack, event).await;
        assert_eq!(
            (got, json["error"]["code"].as_str()),
            (status, Some(code)),
            "{json}"
        );
        assert!(json["error"]["message"].is_string());
    }
    assert!(stack.all_items().await.expect("scan").is_empty());
}

#[tokio::test]
async fn upper_case_content_type_with_parameters_is_json() {
    let stack = TestStack::revealing().await.expect("stack");
    let event = event()
        .header("Content-Type", "APPLICATION/JSON; charset=UTF-8")
        .json(&registration("case@example.com"));
    let (status, json, _) = register_with(&stack, event).await;
    assert_eq!(status, 201, "{json}");
}

#[tokio::test]
async fn every_response_carries_the_gateway_request_id() {
    let stack = TestStack::revealing().await.expect("stack");
    let expected = [
        (EventKind::HttpApiV2, "Fx2aQjQfDoEEMbw="),
        (EventKind::RestApiV1, "c0ffee00-1111-4222-8333-444455556666"),
        (
            EventKind::FunctionUrl,
            "5d4c3b2a-aaaa-4bbb-8ccc-ddddeeeeffff",
        ),
    ];
    for (kind, id) in expected {
        let bad = Event::new(kind, "/auth/register")
            .expect("event")
            .raw_body("nope", false);
        let (status, _, request_id) = register_with(&stack, bad).await;
        assert_eq!((status, request_id.as_str()), (400, id));
    }
}

#[tokio::test]
async fn unknown_routes_are_404_and_other_methods_405_on_the_session_function() {
    let stack = TestStack::revealing().await.expect("stack");
    let unknown = Event::new(EventKind::HttpApiV2, "/auth/nothing")
        .expect("event")
        .request();
    let response = refresh::handle(&stack.state, unknown.expect("request")).await;
    assert_eq!(response.status(), 404);
    assert_eq!(body_json(&response)["error"]["code"], "not_found");
    let get = Event::new(EventKind::HttpApiV2, "/auth/refresh")
        .expect("event")
        .method("GET");
    let response = refresh::handle(&stack.state, get.request().expect("request")).await;
    assert_eq!(response.status(), 405);
}

#[tokio::test]
async fn a_rest_api_stage_prefix_still_reaches_the_route() {
    let stack = TestStack::revealing().await.expect("stack");
    let body = serde_json::json!({ "refresh_token": "A".repeat(43) });
    for kind in EventKind::ALL {
        let event = Event::new(kind, "/auth/logout").expect("event").json(&body);
        let response = refresh::handle(&stack.state, event.request().expect("request")).await;
        assert_eq!(response.status(), 204, "{kind:?}");
    }
}
