//! `make admin`: the operator's way to the first admin, against the emulator.

use aws_sdk_dynamodb::types::AttributeValue;
use capecontrol_admin::{grant, Outcome, Target};
use capecontrol_shared::email::Email;
use capecontrol_shared::password::Hasher;
use capecontrol_shared::store::users::Role;
use capecontrol_tests::earnings::{access_token, send};
use capecontrol_tests::{body_json, call, registration, string, token, TestStack, STRONG_PASSWORD};

fn target<'a>(stack: &'a TestStack, hasher: &'a Hasher) -> Target<'a> {
    Target {
        dynamo: stack.dynamo(),
        table: stack.state.table(),
        hasher,
        audit_retention: time::Duration::days(1),
    }
}

/// The active-admin count item's value, if the item exists.
async fn admin_count(stack: &TestStack) -> Option<String> {
    let all = stack.all_items().await.expect("scan");
    let item = all.iter().find(|i| string(i, "pk") == Some("ADMINS"))?;
    item.get("active_admins")?.as_n().ok().cloned()
}

fn email(text: &str) -> Email {
    Email::parse(text).expect("email")
}

#[tokio::test]
async fn an_unknown_email_becomes_a_verified_admin_who_can_log_in_and_use_admin_routes() {
    let stack = TestStack::new().await.expect("stack");
    let hasher = Hasher::owasp();
    let outcome = grant(
        &target(&stack, &hasher),
        &email("Ops@Example.com"),
        STRONG_PASSWORD,
    )
    .await
    .expect("grant");
    let Outcome::Created(id) = outcome else {
        panic!("created: {outcome:?}")
    };
    let users = stack.items_of("user").await.expect("scan");
    assert_eq!(string(&users[0], "role"), Some("admin"));
    assert_eq!(users[0]["is_verified"], AttributeValue::Bool(true));
    assert_eq!(string(&users[0], "gsi1pk"), Some("USERS#admin#active"));
    assert_eq!(admin_count(&stack).await.as_deref(), Some("1"));
    let credentials = stack.items_of("credentials").await.expect("scan");
    assert_eq!(string(&credentials[0], "role"), Some("admin"));
    let audit = stack.items_of("audit").await.expect("scan");
    assert_eq!(string(&audit[0], "event_type"), Some("admin_granted"));
    assert_eq!(string(&audit[0], "user_id"), Some(id.as_str()));

    let login = call::login(&stack.state, "ops@example.com", STRONG_PASSWORD).await;
    assert_eq!(login.status(), 200);
    let admin_token = token(&body_json(&login), "access_token");
    let body = serde_json::json!({ "commission_rate": "0.2" });
    let (status, answer) = send(
        &stack.state,
        "PATCH",
        "/earnings/nobody",
        Some(&body),
        &admin_token,
    )
    .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (404, Some("record_not_found")),
        "past the admin check"
    );
}

#[tokio::test]
async fn a_new_admin_needs_a_password_that_registration_would_accept() {
    let stack = TestStack::new().await.expect("stack");
    let hasher = Hasher::owasp();
    let target = target(&stack, &hasher);
    let refused = grant(&target, &email("ops@example.com"), "password1234").await;
    assert!(refused.is_err());
    assert!(stack.all_items().await.expect("scan").is_empty());
}

#[tokio::test]
async fn promotion_needs_the_accounts_password_and_revokes_its_old_tokens() {
    let stack = TestStack::new().await.expect("stack");
    let state = &stack.state;
    let registered = call::register(state, &registration("dev@example.com")).await;
    assert!(
        registered.status().is_success(),
        "{}",
        body_json(&registered)
    );
    let credentials = stack.items_of("credentials").await.expect("scan");
    let id = string(&credentials[0], "user_id").expect("user id");
    let id = capecontrol_shared::store::users::UserId::parse(id).expect("user id");
    let before = access_token(state, &id, Role::Developer, 0).await;
    let hasher = Hasher::owasp();
    let target = target(&stack, &hasher);

    let wrong = grant(
        &target,
        &email("dev@example.com"),
        "not the password at all",
    )
    .await;
    assert!(wrong.is_err());
    let users = stack.items_of("user").await.expect("scan");
    assert_eq!(
        string(&users[0], "role"),
        Some("developer"),
        "nothing changed"
    );

    let outcome = grant(&target, &email("dev@example.com"), STRONG_PASSWORD).await;
    assert_eq!(outcome.expect("grant"), Outcome::Promoted(id.clone()));
    let users = stack.items_of("user").await.expect("scan");
    assert_eq!(string(&users[0], "role"), Some("admin"));
    assert_eq!(users[0]["token_version"], AttributeValue::N("1".into()));
    assert_eq!(users[0]["is_verified"], AttributeValue::Bool(true));
    let credentials = stack.items_of("credentials").await.expect("scan");
    assert_eq!(string(&credentials[0], "role"), Some("admin"));
    assert_eq!(
        credentials[0]["token_version"],
        AttributeValue::N("1".into())
    );
    assert_eq!(send(state, "GET", "/earnings", None, &before).await.0, 401);

    assert_eq!(string(&users[0], "gsi1pk"), Some("USERS#admin#active"));
    assert_eq!(admin_count(&stack).await.as_deref(), Some("1"));

    let again = grant(&target, &email("dev@example.com"), STRONG_PASSWORD).await;
    assert_eq!(again.expect("grant"), Outcome::AlreadyAdmin(id));
    assert_eq!(
        admin_count(&stack).await.as_deref(),
        Some("1"),
        "counted once"
    );
    let granted = stack.items_of("audit").await.expect("scan");
    let granted = granted
        .iter()
        .filter(|a| string(a, "event_type") == Some("admin_granted"));
    assert_eq!(granted.count(), 1);
}
