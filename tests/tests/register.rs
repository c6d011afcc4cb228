//! `POST /auth/register` against the emulator, through every event shape.

use capecontrol_tests::STRONG_PASSWORD;
use capecontrol_tests::{body_json, call, registration, string, Event, EventKind, TestStack};
use serde_json::json;

#[tokio::test]
async fn registration_through_each_event_shape_creates_one_account_with_the_public_fields() {
    for kind in EventKind::ALL {
        let stack = TestStack::revealing().await.expect("stack");
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
    let stack = TestStack::revealing().await.expect("stack");
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
    let stack = TestStack::revealing().await.expect("stack");
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
    let stack = TestStack::revealing().await.expect("stack");
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

mod enumeration_safe {
    use super::*;
    use capecontrol_tests::{mails_to, unique_email};
    use lambda_http::Body;

    fn raw(response: &lambda_http::Response<Body>) -> String {
        match response.body() {
            Body::Text(text) => text.clone(),
            other => panic!("text body expected, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn new_and_taken_emails_get_byte_identical_202_answers() {
        let stack = TestStack::new().await.expect("stack");
        let email = unique_email("same");
        let first = call::register(&stack.state, &registration(&email)).await;
        let second = call::register(&stack.state, &registration(&email.to_uppercase())).await;
        assert_eq!(
            (first.status().as_u16(), second.status().as_u16()),
            (202, 202)
        );
        assert_eq!(raw(&first), raw(&second));
        assert!(!raw(&first).contains(&email));
        assert_eq!(stack.items_of("user").await.expect("scan").len(), 1);
    }

    #[tokio::test]
    async fn a_new_account_is_mailed_a_verification_link_from_the_configured_base() {
        let stack = TestStack::new().await.expect("stack");
        let email = unique_email("verify");
        let response = call::register(&stack.state, &registration(&email)).await;
        assert_eq!(response.status(), 202);
        let mails = mails_to(&email).await.expect("mails");
        assert_eq!(mails.len(), 1);
        assert_eq!(mails[0].subject, "Confirm your CapeControl email address");
        let link = mails[0].link().expect("a link");
        assert!(
            link.starts_with("https://app.capecontrol.example/verify-email?token="),
            "{link}"
        );
        assert_eq!(mails[0].token().expect("token").len(), 43);
        let tokens = stack.items_of("email_verification").await.expect("scan");
        assert_eq!(tokens.len(), 1);
        let token = mails[0].token().expect("token");
        assert!(
            !format!("{tokens:?}").contains(&token),
            "only the hash is stored"
        );
    }

    #[tokio::test]
    async fn the_owner_of_a_taken_address_is_told_of_the_attempt() {
        let stack = TestStack::new().await.expect("stack");
        let email = unique_email("owner");
        call::register(&stack.state, &registration(&email)).await;
        call::register(&stack.state, &registration(&email)).await;
        let subjects = capecontrol_tests::mail_subjects(&email)
            .await
            .expect("mails");
        assert_eq!(
            subjects,
            [
                "Confirm your CapeControl email address",
                "Someone tried to register with your email address"
            ]
        );
        let audit = stack.items_of("audit").await.expect("scan");
        let attempts: Vec<_> = audit
            .iter()
            .filter(|a| string(a, "event_type") == Some("registration_attempt_on_taken_email"))
            .collect();
        assert_eq!(attempts.len(), 1);
        let users = stack.items_of("user").await.expect("scan");
        assert_eq!(string(attempts[0], "user_id"), string(&users[0], "id"));
    }

    #[tokio::test]
    async fn links_ignore_host_and_forwarding_headers() {
        let stack = TestStack::new().await.expect("stack");
        let email = unique_email("host");
        let event = Event::new(EventKind::HttpApiV2, "/auth/register")
            .expect("event")
            .header("host", "evil.example.net")
            .header("x-forwarded-host", "evil.example.net")
            .header("forwarded", "host=evil.example.net;proto=https")
            .header("origin", "https://evil.example.net")
            .header("referer", "https://evil.example.net/")
            .json(&registration(&email));
        let response = register::handle(&stack.state, event.request().expect("request")).await;
        assert_eq!(response.status(), 202);
        let mails = mails_to(&email).await.expect("mails");
        let link = mails[0].link().expect("link");
        assert!(
            link.starts_with("https://app.capecontrol.example/"),
            "{link}"
        );
        assert!(!mails[0].html.contains("evil"));
    }
}

#[tokio::test]
async fn registrations_over_the_per_email_limit_get_429_with_retry_after() {
    let stack = TestStack::new().await.expect("stack");
    let email = capecontrol_tests::unique_email("limit");
    let limit = stack.state.settings.rate_limits.per_email.max;
    for _ in 0..limit {
        assert_eq!(
            call::register(&stack.state, &registration(&email))
                .await
                .status(),
            202
        );
    }
    let refused = call::register(&stack.state, &registration(&email)).await;
    assert_eq!(refused.status(), 429);
    assert_eq!(body_json(&refused)["error"]["code"], "too_many_requests");
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    assert_eq!(stack.items_of("user").await.expect("scan").len(), 1);
}
