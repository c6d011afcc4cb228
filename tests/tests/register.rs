//! `POST /auth/register` against the emulator, through every event shape.

use capecontrol_tests::STRONG_PASSWORD;
use capecontrol_tests::{body_json, call, registration, string, Event, EventKind, TestStack};
use serde_json::json;

#[tokio::test]
async fn registration_through_each_event_shape_creates_one_account_with_the_public_fields() {
    for kind in EventKind::ALL {
        let stack = TestStack::new().await.expect("stack");
        let body = registration(" Thandi@Example.COM ");
        let request = Event::new(kind, "/auth/register")
            .expect("event")
            .json(&body)
            .request();
        let response = register::handle(&stack.state, request.expect("request")).await;

        assert_eq!(response.status(), 201, "{kind:?}: {}", body_json(&response));
        let user = &body_json(&response)["user"];
        assert_eq!(user["email"], "thandi@example.com");
        assert_eq!(user["role"], "developer");
        assert_eq!(user["experience"], "advanced");
        assert_eq!(user["is_verified"], false);
        assert!(user["terms_accepted_at"].is_string() && user["privacy_accepted_at"].is_string());
        assert!(user.get("password_hash").is_none() && user.get("token_version").is_none());
        assert_eq!(stack.items_of("user").await.expect("scan").len(), 1);
        assert_eq!(stack.items_of("credentials").await.expect("scan").len(), 1);
        let audit = stack.items_of("audit").await.expect("scan");
        assert_eq!(audit.len(), 1);
        assert_eq!(string(&audit[0], "event_type"), Some("user_registered"));
        assert_eq!(string(&audit[0], "ip_address"), Some(kind.source_ip()));
    }
}

#[tokio::test]
async fn the_password_is_stored_only_as_an_argon2id_hash() {
    let stack = TestStack::new().await.expect("stack");
    let response = call::register(&stack.state, &registration("hash@example.com")).await;
    assert_eq!(response.status(), 201);
    let items = stack.all_items().await.expect("scan");
    let everything = format!("{items:?}");
    assert!(!everything.contains(STRONG_PASSWORD));
    let credentials = stack.items_of("credentials").await.expect("scan");
    let hash = string(&credentials[0], "password_hash").expect("hash");
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(!format!("{:?}", body_json(&response)).contains("argon2"));
}

#[tokio::test]
async fn a_taken_email_in_another_case_is_409_and_creates_no_second_user() {
    let stack = TestStack::new().await.expect("stack");
    assert_eq!(
        call::register(&stack.state, &registration("twice@example.com"))
            .await
            .status(),
        201
    );
    let again = call::register(&stack.state, &registration("TWICE@example.com")).await;
    assert_eq!(again.status(), 409);
    assert_eq!(body_json(&again)["error"]["code"], "email_taken");
    assert_eq!(stack.items_of("user").await.expect("scan").len(), 1);
    assert_eq!(stack.items_of("audit").await.expect("scan").len(), 1);
}

#[tokio::test]
async fn invalid_fields_are_422_listed_one_by_one_and_nothing_is_stored() {
    let stack = TestStack::new().await.expect("stack");
    let body = json!({
        "email": "not-an-email", "password": "password1234", "role": "admin",
        "accept_terms": true, "accept_privacy": "yes", "is_admin": true
    });
    let response = call::register(&stack.state, &body).await;
    assert_eq!(response.status(), 422);
    let error = &body_json(&response)["error"];
    assert_eq!(error["code"], "validation_failed");
    let fields: Vec<(String, String)> = error["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| {
            (
                f["field"].as_str().unwrap_or("").into(),
                f["code"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    let expected = [
        ("email", "invalid_email"),
        ("password", "password_too_weak"),
        ("role", "role_not_allowed"),
        ("accept_privacy", "invalid_type"),
        ("is_admin", "unknown_field"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(f, c)| ((*f).into(), (*c).into()))
        .collect();
    assert_eq!(fields, expected);
    assert!(stack.all_items().await.expect("scan").is_empty());
}
