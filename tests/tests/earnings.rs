//! The earnings routes against the emulator, each test on a fresh table: authorization from
//! the user item, records, sales, payouts, rate changes, idempotency, listings and cursors.

use aws_sdk_dynamodb::types::AttributeValue;
use capecontrol_shared::store::users::Role;
use capecontrol_tests::earnings::{
    access_token, call, open_agent, payout, sale, seed_user, send, set_profile, text, Seeded,
};
use capecontrol_tests::{body_json, string, Event, EventKind, TestStack};
use serde_json::{json, Value};

struct Cast {
    stack: TestStack,
    admin: Seeded,
    developer: Seeded,
}

async fn cast() -> Cast {
    let stack = TestStack::new().await.expect("stack");
    let admin = seed_user(&stack.state, Role::Admin, true).await;
    let developer = seed_user(&stack.state, Role::Developer, true).await;
    Cast {
        stack,
        admin,
        developer,
    }
}

impl Cast {
    async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        send(
            &self.stack.state,
            "POST",
            path,
            Some(body),
            &self.admin.token,
        )
        .await
    }

    async fn sale(&self, agent: &str, sale_id: &str, amount: &str) -> (u16, Value) {
        let body = sale(&self.developer.id, agent, sale_id, amount);
        self.post("/earnings/sales", &body).await
    }

    async fn payout(&self, agent: &str, payout_id: &str, amount: &str) -> (u16, Value) {
        let body = payout(&self.developer.id, agent, payout_id, amount);
        self.post("/earnings/payouts", &body).await
    }

    async fn rate(&self, agent: &str, rate: &str) {
        let body = json!({ "commission_rate": rate });
        let path = format!("/earnings/{agent}");
        let (status, answer) = send(
            &self.stack.state,
            "PATCH",
            &path,
            Some(&body),
            &self.admin.token,
        )
        .await;
        assert_eq!(status, 200, "{answer}");
    }

    async fn record(&self, agent: &str) -> Value {
        let path = format!("/earnings/{agent}");
        let (status, body) = send(&self.stack.state, "GET", &path, None, &self.admin.token).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    async fn count(&self, entity: &str) -> usize {
        self.stack.items_of(entity).await.expect("scan").len()
    }

    async fn audited(&self, event: &str) -> Vec<capecontrol_shared::store::Item> {
        let audit = self.stack.items_of("audit").await.expect("scan");
        audit
            .into_iter()
            .filter(|a| string(a, "event_type") == Some(event))
            .collect()
    }
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

fn field_codes(body: &Value) -> Vec<(String, String)> {
    let fields = body["error"]["fields"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    fields
        .iter()
        .map(|f| (text(f, "/field").to_owned(), text(f, "/code").to_owned()))
        .collect()
}

#[tokio::test]
async fn a_developer_opens_a_record_at_the_default_rate_and_a_taken_agent_id_is_409() {
    let cast = cast().await;
    let opened = open_agent(&cast.stack.state, &cast.developer, "summariser").await;
    let record = &opened["record"];
    assert_eq!(record["agent_id"], "summariser");
    assert_eq!(record["agent_name"], "Test agent");
    assert_eq!(record["developer_id"], cast.developer.id.as_str());
    for zero in [
        "total_sales",
        "revenue_share",
        "total_paid_out",
        "last_payout_amount",
    ] {
        assert_eq!(record[zero], "0.00", "{zero}");
    }
    assert_eq!(record["balance"], "0.00");
    assert_eq!(record["commission_rate"], "0.3000");
    assert_eq!(record["currency"], "USD");
    assert_eq!(record["is_active"], true);
    assert_eq!(record["last_payout_at"], Value::Null);

    let other = seed_user(&cast.stack.state, Role::Developer, true).await;
    let body = json!({ "agent_id": "summariser" });
    let (status, answer) = send(
        &cast.stack.state,
        "POST",
        "/earnings/agents",
        Some(&body),
        &other.token,
    )
    .await;
    assert_eq!((status, code(&answer)), (409, "agent_exists"));
    assert_eq!(cast.count("earnings_record").await, 1);

    let audited = cast.audited("earnings_agent_created").await;
    assert_eq!(audited.len(), 1);
    assert_eq!(
        string(&audited[0], "user_id"),
        Some(cast.developer.id.as_str())
    );
}

#[tokio::test]
async fn agent_fields_are_validated_one_error_per_field() {
    let cast = cast().await;
    let body = json!({
        "agent_id": "has#hash",
        "agent_name": "x".repeat(256),
        "currency": "JPY",
        "colour": "red",
    });
    let (status, answer) = send(
        &cast.stack.state,
        "POST",
        "/earnings/agents",
        Some(&body),
        &cast.developer.token,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        field_codes(&answer),
        vec![
            ("agent_id".into(), "invalid_id".into()),
            ("agent_name".into(), "too_long".into()),
            ("currency".into(), "invalid_currency".into()),
            ("colour".into(), "unknown_field".into()),
        ]
    );
}

#[tokio::test]
async fn customers_get_403_and_unverified_developers_get_email_not_verified() {
    let cast = cast().await;
    open_agent(&cast.stack.state, &cast.developer, "a-1").await;
    let customer = seed_user(&cast.stack.state, Role::Customer, true).await;
    let unverified = seed_user(&cast.stack.state, Role::Developer, false).await;
    let agent = json!({ "agent_id": "a-2" });
    for (who, expected) in [
        (&customer, "forbidden"),
        (&unverified, "email_not_verified"),
    ] {
        let state = &cast.stack.state;
        for (method, path, body) in [
            ("GET", "/earnings", None),
            ("GET", "/earnings/a-1", None),
            ("POST", "/earnings/agents", Some(&agent)),
        ] {
            let (status, answer) = send(state, method, path, body, &who.token).await;
            assert_eq!((status, code(&answer)), (403, expected), "{method} {path}");
        }
    }
    assert_eq!(cast.count("earnings_record").await, 1);
}

#[tokio::test]
async fn missing_forged_stale_and_deactivated_tokens_are_401() {
    let cast = cast().await;
    let state = &cast.stack.state;
    for token in ["", "not-a-jwt"] {
        let response = call(state, "GET", "/earnings", None, token).await;
        assert_eq!(response.status(), 401);
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
    }
    set_profile(
        state,
        &cast.developer.id,
        "token_version",
        AttributeValue::N("1".into()),
    )
    .await;
    let (status, _) = send(state, "GET", "/earnings", None, &cast.developer.token).await;
    assert_eq!(status, 401, "a token from before the revocation");
    let fresh = access_token(state, &cast.developer.id, Role::Developer, 1).await;
    assert_eq!(send(state, "GET", "/earnings", None, &fresh).await.0, 200);

    set_profile(
        state,
        &cast.developer.id,
        "is_active",
        AttributeValue::Bool(false),
    )
    .await;
    assert_eq!(send(state, "GET", "/earnings", None, &fresh).await.0, 401);
}

#[tokio::test]
async fn the_role_comes_from_the_user_item_not_the_token() {
    let cast = cast().await;
    let state = &cast.stack.state;
    open_agent(state, &cast.developer, "a-1").await;
    let claims_admin = access_token(state, &cast.developer.id, Role::Admin, 0).await;
    let body = sale(&cast.developer.id, "a-1", "s-1", "5.00");
    let (status, answer) = send(state, "POST", "/earnings/sales", Some(&body), &claims_admin).await;
    assert_eq!((status, code(&answer)), (403, "forbidden"));

    set_profile(
        state,
        &cast.developer.id,
        "role",
        AttributeValue::S("admin".into()),
    )
    .await;
    let claims_developer = cast.developer.token.clone();
    let (status, answer) = send(
        state,
        "POST",
        "/earnings/sales",
        Some(&body),
        &claims_developer,
    )
    .await;
    assert_eq!(status, 201, "{answer}");
}

#[tokio::test]
async fn a_sale_credits_the_record_with_its_entry_and_audit_in_exact_numbers() {
    let cast = cast().await;
    open_agent(&cast.stack.state, &cast.developer, "a-1").await;
    let (status, answer) = cast.sale("a-1", "order-1", "6.45").await;
    assert_eq!(status, 201, "{answer}");
    let record = &answer["record"];
    assert_eq!(record["total_sales"], "6.45");
    assert_eq!(record["revenue_share"], "4.51");
    assert_eq!(record["balance"], "4.51");
    let entry = &answer["entry"];
    assert_eq!(entry["type"], "sale");
    assert_eq!(entry["sale_id"], "order-1");
    assert_eq!(entry["amount"], "6.45");
    assert_eq!(entry["commission_rate"], "0.3000");
    assert_eq!(entry["commission"], "1.94");
    assert_eq!(entry["developer_share"], "4.51");
    assert_eq!(entry["balance_after"], "4.51");
    assert_eq!(entry["created_by"], cast.admin.id.as_str());

    let stored = cast.stack.items_of("earnings_record").await.expect("scan");
    assert_eq!(stored[0]["total_sales"], AttributeValue::N("6.45".into()));
    assert_eq!(stored[0]["balance"], AttributeValue::N("4.51".into()));
    let entries = cast.stack.items_of("earnings_entry").await.expect("scan");
    assert_eq!(entries[0]["commission"], AttributeValue::N("1.94".into()));
    let audited = cast.audited("earnings_sale_recorded").await;
    assert_eq!(audited.len(), 1);
    assert_eq!(string(&audited[0], "user_id"), Some(cast.admin.id.as_str()));
    assert!(string(&audited[0], "metadata").is_some_and(|m| m.contains("order-1")));
}

#[tokio::test]
async fn the_pinned_rounding_cases_split_exactly_through_the_route() {
    let cast = cast().await;
    let cases = [
        ("6.45", "0.3", "1.94", "4.51"),
        ("0.01", "0.3", "0.00", "0.01"),
        ("99999999.99", "0.0001", "10000.00", "99989999.99"),
        ("0.25", "0.5", "0.12", "0.13"),
        ("0.27", "0.5", "0.14", "0.13"),
    ];
    for (i, (amount, rate, commission, share)) in cases.into_iter().enumerate() {
        let agent = format!("round-{i}");
        open_agent(&cast.stack.state, &cast.developer, &agent).await;
        cast.rate(&agent, rate).await;
        let (status, answer) = cast.sale(&agent, &format!("sale-{i}"), amount).await;
        assert_eq!(status, 201, "{answer}");
        let entry = &answer["entry"];
        assert_eq!(
            (text(entry, "/commission"), text(entry, "/developer_share")),
            (commission, share),
            "{amount} at {rate}"
        );
        assert_eq!(answer["record"]["revenue_share"], share);
    }
}

#[tokio::test]
async fn replaying_a_sale_returns_the_first_answer_and_a_different_body_is_409() {
    let cast = cast().await;
    let state = &cast.stack.state;
    open_agent(state, &cast.developer, "a-1").await;
    let first = cast.sale("a-1", "order-1", "6.50").await;
    assert_eq!(first.0, 201);

    let again = sale(&cast.developer.id, "a-1", "order-1", "6.5");
    let response = call(
        state,
        "POST",
        "/earnings/sales",
        Some(&again),
        &cast.admin.token,
    )
    .await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["idempotent-replayed"], "true");
    assert_eq!(body_json(&response), first.1);

    let (status, answer) = cast.sale("a-1", "order-1", "7.00").await;
    assert_eq!((status, code(&answer)), (409, "idempotency_key_reused"));
    assert_eq!(cast.record("a-1").await["record"]["total_sales"], "6.50");
    assert_eq!(cast.count("earnings_entry").await, 1);
    assert_eq!(cast.audited("earnings_sale_recorded").await.len(), 1);
}

#[tokio::test]
async fn bad_amounts_and_currencies_are_422_with_the_field_and_change_nothing() {
    let cast = cast().await;
    open_agent(&cast.stack.state, &cast.developer, "a-1").await;
    let mut as_number = sale(&cast.developer.id, "a-1", "s-0", "1");
    as_number["amount"] = json!(6.45);
    let (status, answer) = cast.post("/earnings/sales", &as_number).await;
    assert_eq!(status, 422);
    assert_eq!(
        field_codes(&answer),
        vec![("amount".into(), "invalid_type".into())]
    );

    for (i, (amount, expected)) in [
        ("-1.00", "not_positive"),
        ("0.00", "not_positive"),
        ("1.005", "too_precise"),
        ("100000000.00", "out_of_range"),
        ("1e3", "invalid_amount"),
    ]
    .into_iter()
    .enumerate()
    {
        let (status, answer) = cast.sale("a-1", &format!("s-{i}"), amount).await;
        assert_eq!(status, 422, "{amount}");
        assert_eq!(
            field_codes(&answer),
            vec![("amount".into(), expected.into())]
        );
    }
    let mut euros = sale(&cast.developer.id, "a-1", "s-9", "1.00");
    euros["currency"] = json!("EUR");
    let (status, answer) = cast.post("/earnings/sales", &euros).await;
    assert_eq!(status, 422);
    assert_eq!(
        field_codes(&answer),
        vec![("currency".into(), "currency_mismatch".into())]
    );

    assert_eq!(cast.record("a-1").await["record"]["total_sales"], "0.00");
    assert!(cast
        .stack
        .items_of("earnings_entry")
        .await
        .expect("scan")
        .is_empty());
    assert!(cast.stack.items_of("sale").await.expect("scan").is_empty());
}

#[tokio::test]
async fn a_sale_that_would_push_the_total_past_the_range_is_refused_and_changes_nothing() {
    let cast = cast().await;
    open_agent(&cast.stack.state, &cast.developer, "a-1").await;
    assert_eq!(cast.sale("a-1", "big", "99999999.99").await.0, 201);
    let (status, answer) = cast.sale("a-1", "one-more", "0.01").await;
    assert_eq!(status, 422);
    assert_eq!(
        field_codes(&answer),
        vec![("amount".into(), "total_out_of_range".into())]
    );
    assert_eq!(
        cast.record("a-1").await["record"]["total_sales"],
        "99999999.99"
    );
    assert_eq!(cast.count("earnings_entry").await, 1);
}

#[tokio::test]
async fn only_admins_post_sales_payouts_and_changes() {
    let cast = cast().await;
    let state = &cast.stack.state;
    open_agent(state, &cast.developer, "a-1").await;
    let token = &cast.developer.token;
    let rate = json!({ "commission_rate": "0" });
    for (method, path, body) in [
        (
            "POST",
            "/earnings/sales",
            sale(&cast.developer.id, "a-1", "s", "9.00"),
        ),
        (
            "POST",
            "/earnings/payouts",
            payout(&cast.developer.id, "a-1", "p", "1.00"),
        ),
        ("PATCH", "/earnings/a-1", rate),
    ] {
        let (status, answer) = send(state, method, path, Some(&body), token).await;
        assert_eq!(
            (status, code(&answer)),
            (403, "forbidden"),
            "{method} {path}"
        );
    }
    assert_eq!(
        cast.record("a-1").await["record"]["commission_rate"],
        "0.3000"
    );
}

#[tokio::test]
async fn a_sale_to_an_unknown_agent_or_the_wrong_developer_is_404() {
    let cast = cast().await;
    open_agent(&cast.stack.state, &cast.developer, "a-1").await;
    let (status, answer) = cast.sale("nobody", "s-1", "1.00").await;
    assert_eq!((status, code(&answer)), (404, "record_not_found"));
    let stranger = seed_user(&cast.stack.state, Role::Developer, true).await;
    let body = sale(&stranger.id, "a-1", "s-2", "1.00");
    let (status, answer) = cast.post("/earnings/sales", &body).await;
    assert_eq!((status, code(&answer)), (404, "record_not_found"));
}

#[tokio::test]
async fn a_payout_reduces_the_balance_and_one_past_the_balance_is_409() {
    let cast = cast().await;
    open_agent(&cast.stack.state, &cast.developer, "a-1").await;
    cast.sale("a-1", "s-1", "100.00").await;
    let (status, answer) = cast.payout("a-1", "p-1", "50.00").await;
    assert_eq!(status, 201, "{answer}");
    let record = &answer["record"];
    assert_eq!(record["balance"], "20.00");
    assert_eq!(record["total_paid_out"], "50.00");
    assert_eq!(record["last_payout_amount"], "50.00");
    assert_eq!(record["last_payout_at"], answer["entry"]["created_at"]);
    assert_eq!(answer["entry"]["type"], "payout");
    assert_eq!(answer["entry"]["payout_id"], "p-1");
    assert_eq!(answer["entry"]["balance_after"], "20.00");
    assert!(answer["entry"].get("commission").is_none());

    let (status, answer) = cast.payout("a-1", "p-2", "20.01").await;
    assert_eq!((status, code(&answer)), (409, "insufficient_balance"));
    let replay = cast.payout("a-1", "p-1", "50.00").await;
    assert_eq!(replay.0, 201);
    assert_eq!(replay.1["record"]["balance"], "20.00");
    let (status, answer) = cast.payout("a-1", "p-1", "20.00").await;
    assert_eq!((status, code(&answer)), (409, "idempotency_key_reused"));
    assert_eq!(cast.payout("a-1", "p-3", "20.00").await.0, 201);
    assert_eq!(cast.record("a-1").await["record"]["balance"], "0.00");
    assert_eq!(cast.audited("earnings_payout_recorded").await.len(), 2);
}

#[tokio::test]
async fn a_new_rate_applies_to_later_sales_only_and_an_inactive_record_takes_no_sales() {
    let cast = cast().await;
    let state = &cast.stack.state;
    open_agent(state, &cast.developer, "a-1").await;
    cast.sale("a-1", "s-1", "10.00").await;
    cast.rate("a-1", "0.1").await;
    let (_, second) = cast.sale("a-1", "s-2", "10.00").await;
    assert_eq!(second["entry"]["developer_share"], "9.00");
    let view = cast.record("a-1").await;
    assert_eq!(view["record"]["revenue_share"], "16.00");
    assert_eq!(
        view["entries"][1]["commission_rate"], "0.3000",
        "the older sale keeps its rate"
    );

    let off = json!({ "is_active": false });
    let (status, answer) = send(
        state,
        "PATCH",
        "/earnings/a-1",
        Some(&off),
        &cast.admin.token,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["record"]["is_active"], false);
    let (status, answer) = cast.sale("a-1", "s-3", "10.00").await;
    assert_eq!((status, code(&answer)), (409, "record_inactive"));
    assert_eq!(
        cast.payout("a-1", "p-1", "16.00").await.0,
        201,
        "still paid out"
    );

    let audited = cast.audited("earnings_record_changed").await;
    assert_eq!(audited.len(), 2);
    assert!(audited
        .iter()
        .all(|a| string(a, "user_id") == Some(cast.admin.id.as_str())));
}

#[tokio::test]
async fn rate_changes_are_validated() {
    let cast = cast().await;
    let state = &cast.stack.state;
    open_agent(state, &cast.developer, "a-1").await;
    for (body, field, expected) in [
        (
            json!({ "commission_rate": "1.5" }),
            "commission_rate",
            "out_of_range",
        ),
        (
            json!({ "commission_rate": "0.12345" }),
            "commission_rate",
            "too_precise",
        ),
        (
            json!({ "commission_rate": 0.3 }),
            "commission_rate",
            "invalid_type",
        ),
        (json!({ "is_active": "no" }), "is_active", "invalid_type"),
        (json!({}), "", "nothing_to_change"),
    ] {
        let (status, answer) = send(
            state,
            "PATCH",
            "/earnings/a-1",
            Some(&body),
            &cast.admin.token,
        )
        .await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(
            field_codes(&answer),
            vec![(field.into(), expected.into())],
            "{body}"
        );
    }
    let body = json!({ "is_active": false });
    let (status, answer) = send(
        state,
        "PATCH",
        "/earnings/nobody",
        Some(&body),
        &cast.admin.token,
    )
    .await;
    assert_eq!((status, code(&answer)), (404, "record_not_found"));
}

#[tokio::test]
async fn a_developer_sees_only_their_own_records_and_admins_see_anyones() {
    let cast = cast().await;
    let state = &cast.stack.state;
    open_agent(state, &cast.developer, "a-1").await;
    cast.sale("a-1", "s-1", "10.00").await;
    let other = seed_user(state, Role::Developer, true).await;

    let (status, answer) = send(state, "GET", "/earnings/a-1", None, &other.token).await;
    assert_eq!((status, code(&answer)), (404, "record_not_found"));
    let theirs = format!("/earnings?developer_id={}", cast.developer.id);
    let (status, answer) = send(state, "GET", &theirs, None, &other.token).await;
    assert_eq!((status, code(&answer)), (403, "forbidden"));
    let (status, mine) = send(state, "GET", "/earnings", None, &other.token).await;
    assert_eq!(status, 200);
    assert_eq!(mine["records"], json!([]));

    let (status, listed) = send(state, "GET", &theirs, None, &cast.admin.token).await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["records"][0]["agent_id"], "a-1");
    let (status, own) = send(state, "GET", "/earnings/a-1", None, &cast.developer.token).await;
    assert_eq!(status, 200);
    assert_eq!(own["entries"][0]["sale_id"], "s-1");
}

#[tokio::test]
async fn the_listing_totals_every_record_per_currency() {
    let cast = cast().await;
    let state = &cast.stack.state;
    for (agent, currency) in [("a-1", "USD"), ("a-2", "USD"), ("e-1", "EUR")] {
        let body = json!({ "agent_id": agent, "currency": currency });
        let (status, _) = send(
            state,
            "POST",
            "/earnings/agents",
            Some(&body),
            &cast.developer.token,
        )
        .await;
        assert_eq!(status, 201);
    }
    cast.sale("a-1", "s-1", "10.00").await;
    cast.sale("a-2", "s-2", "6.45").await;
    let mut euros = sale(&cast.developer.id, "e-1", "s-3", "1.00");
    euros["currency"] = json!("EUR");
    assert_eq!(cast.post("/earnings/sales", &euros).await.0, 201);
    cast.payout("a-1", "p-1", "2.00").await;

    let (_, listed) = send(state, "GET", "/earnings", None, &cast.developer.token).await;
    assert_eq!(
        listed["totals"],
        json!([
            {"currency": "EUR", "total_sales": "1.00", "revenue_share": "0.70",
             "total_paid_out": "0.00", "balance": "0.70"},
            {"currency": "USD", "total_sales": "16.45", "revenue_share": "11.51",
             "total_paid_out": "2.00", "balance": "9.51"},
        ])
    );
}

#[tokio::test]
async fn records_page_by_agent_id_with_cursors_bound_to_their_developer() {
    let cast = cast().await;
    let state = &cast.stack.state;
    for agent in ["a-3", "a-1", "a-5", "a-2", "a-4"] {
        open_agent(state, &cast.developer, agent).await;
    }
    let mut seen = Vec::new();
    let mut path = "/earnings?limit=2".to_owned();
    let mut first_cursor = None;
    loop {
        let (status, page) = send(state, "GET", &path, None, &cast.developer.token).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["totals"][0]["currency"], "USD", "totals on every page");
        let records = page["records"].as_array().expect("records");
        assert!(records.len() <= 2);
        seen.extend(records.iter().map(|r| text(r, "/agent_id").to_owned()));
        let Some(cursor) = page["next"].as_str() else {
            break;
        };
        first_cursor.get_or_insert(cursor.to_owned());
        path = format!("/earnings?limit=2&cursor={cursor}");
    }
    assert_eq!(seen, ["a-1", "a-2", "a-3", "a-4", "a-5"]);

    let cursor = first_cursor.expect("more than one page");
    let other = seed_user(state, Role::Developer, true).await;
    let moved = format!("/earnings?developer_id={}&cursor={cursor}", other.id);
    let (status, answer) = send(state, "GET", &moved, None, &cast.admin.token).await;
    assert_eq!((status, code(&answer)), (400, "invalid_cursor"));
    let (status, _) = send(
        state,
        "GET",
        &format!("/earnings?cursor={cursor}"),
        None,
        &other.token,
    )
    .await;
    assert_eq!(status, 400, "another developer's own listing");
    let tampered = format!("/earnings?cursor=YS05.{}", &cursor[5..]);
    assert_eq!(
        send(state, "GET", &tampered, None, &cast.developer.token)
            .await
            .0,
        400
    );
    let (status, answer) = send(
        state,
        "GET",
        "/earnings?limit=0",
        None,
        &cast.developer.token,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        field_codes(&answer),
        vec![("limit".into(), "invalid_limit".into())]
    );
}

#[tokio::test]
async fn entries_come_newest_first_in_pages() {
    let cast = cast().await;
    let state = &cast.stack.state;
    open_agent(state, &cast.developer, "a-1").await;
    open_agent(state, &cast.developer, "b-1").await;
    for i in 1..=5 {
        cast.sale("a-1", &format!("s-{i}"), "1.00").await;
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let mut seen = Vec::new();
    let mut path = "/earnings/a-1?limit=2".to_owned();
    let mut cursor_seen = None;
    loop {
        let (status, page) = send(state, "GET", &path, None, &cast.developer.token).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["record"]["total_sales"], "5.00");
        let entries = page["entries"].as_array().expect("entries");
        seen.extend(entries.iter().map(|e| text(e, "/sale_id").to_owned()));
        match page["next"].as_str() {
            Some(cursor) => {
                cursor_seen.get_or_insert(cursor.to_owned());
                path = format!("/earnings/a-1?limit=2&cursor={cursor}");
            }
            None => break,
        }
    }
    assert_eq!(seen, ["s-5", "s-4", "s-3", "s-2", "s-1"]);
    let elsewhere = format!("/earnings/b-1?cursor={}", cursor_seen.expect("a cursor"));
    let (status, answer) = send(state, "GET", &elsewhere, None, &cast.developer.token).await;
    assert_eq!((status, code(&answer)), (400, "invalid_cursor"));
}

#[tokio::test]
async fn the_agent_id_is_read_from_path_parameters_or_from_the_path() {
    let cast = cast().await;
    let state = &cast.stack.state;
    open_agent(state, &cast.developer, "a-1").await;
    for kind in EventKind::ALL {
        let mut event = Event::new(kind, "/earnings/a-1")
            .expect("event")
            .method("GET")
            .without_header("content-type")
            .raw_body("", false)
            .header("authorization", &format!("Bearer {}", cast.developer.token));
        if kind != EventKind::FunctionUrl {
            event = event.path_parameter("agent_id", "a-1");
        }
        let response = ::earnings::handle(state, event.request().expect("request")).await;
        assert_eq!(response.status(), 200, "{kind:?}: {}", body_json(&response));
        assert_eq!(
            body_json(&response)["record"]["agent_id"],
            "a-1",
            "{kind:?}"
        );
    }
}

#[tokio::test]
async fn admins_open_records_for_active_developers_only() {
    let cast = cast().await;
    let state = &cast.stack.state;
    let customer = seed_user(state, Role::Customer, true).await;
    for (body, expected) in [
        (json!({ "agent_id": "x-1" }), "required"),
        (
            json!({ "agent_id": "x-1", "developer_id": customer.id }),
            "not_a_developer",
        ),
    ] {
        let (status, answer) = cast.post("/earnings/agents", &body).await;
        assert_eq!(status, 422, "{answer}");
        assert_eq!(
            field_codes(&answer),
            vec![("developer_id".into(), expected.into())]
        );
    }
    let body = json!({ "agent_id": "x-1", "developer_id": cast.developer.id });
    let (status, answer) = cast.post("/earnings/agents", &body).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["record"]["developer_id"], cast.developer.id.as_str());

    let other = seed_user(state, Role::Developer, true).await;
    let body = json!({ "agent_id": "x-2", "developer_id": cast.developer.id });
    let (status, answer) = send(state, "POST", "/earnings/agents", Some(&body), &other.token).await;
    assert_eq!((status, code(&answer)), (403, "forbidden"));
}
