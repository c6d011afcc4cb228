//! End-to-end over HTTP through the running local stack (`make test` starts it and runs these
//! with `--ignored`): the earnings routes of `template.yaml` behind the router, on the stack's
//! table. Email verification belongs to another function, so the tests mark a registered
//! developer verified in the table directly; the admin comes from the `make admin` tool.

use capecontrol_tests::local::Api;
use capecontrol_tests::unique_email;
use futures::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};

fn unique(tag: &str) -> String {
    format!("{tag}-{}", uuid::Uuid::new_v4().simple())
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

#[tokio::test]
#[ignore = "needs the running local stack; `make test` runs it"]
async fn open_sell_replay_pay_out_change_and_read_over_http() {
    let api = Api::new().await;
    let admin = api.admin().await;
    let (developer, token) = api.developer().await;
    let agent = unique("agent");

    let (status, opened) = api
        .post(
            "/earnings/agents",
            &json!({"agent_id": agent, "agent_name": "Scribe"}),
            &token,
        )
        .await;
    assert_eq!(status, 201, "{opened}");
    assert_eq!(opened["record"]["commission_rate"], "0.3000");

    let sale = json!({"developer_id": developer, "agent_id": agent, "sale_id": unique("s"),
                      "amount": "6.45", "currency": "USD"});
    let (status, sold) = api.post("/earnings/sales", &sale, &admin).await;
    assert_eq!(status, 201, "{sold}");
    assert_eq!(sold["entry"]["commission"], "1.94");
    assert_eq!(sold["record"]["balance"], "4.51");
    assert_eq!(
        api.post("/earnings/sales", &sale, &admin).await,
        (201, sold.clone())
    );
    let (status, refused) = api.post("/earnings/sales", &sale, &token).await;
    assert_eq!((status, code(&refused)), (403, "forbidden"));

    let pay = json!({"developer_id": developer, "agent_id": agent, "payout_id": unique("p"),
                     "amount": "4.00"});
    let (status, paid) = api.post("/earnings/payouts", &pay, &admin).await;
    assert_eq!(status, 201, "{paid}");
    assert_eq!(paid["record"]["balance"], "0.51");
    let more = json!({"developer_id": developer, "agent_id": agent, "payout_id": unique("p"),
                      "amount": "0.52"});
    let (status, over) = api.post("/earnings/payouts", &more, &admin).await;
    assert_eq!((status, code(&over)), (409, "insufficient_balance"));

    let path = format!("/earnings/{agent}");
    let off = json!({"is_active": false, "commission_rate": "0.25"});
    let (status, changed) = api.call(Method::PATCH, &path, Some(&off), &admin).await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["record"]["commission_rate"], "0.2500");

    let (status, view) = api.get(&path, &token).await;
    assert_eq!(status, 200, "{view}");
    let kinds: Vec<&str> = view["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(kinds, ["payout", "sale"]);
    let (status, listed) = api.get("/earnings?limit=1", &token).await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["totals"][0]["balance"], "0.51");
    assert_eq!(listed["next"], Value::Null);
}

#[tokio::test]
#[ignore = "needs the running local stack; `make test` runs it"]
async fn customers_unverified_developers_and_no_token_are_refused_over_http() {
    let api = Api::new().await;
    let email = unique_email("unverified");
    let mut body = capecontrol_tests::registration(&email);
    api.register(&body).await;
    let unverified = api.login(&email).await;
    let (status, answer) = api.get("/earnings", &unverified).await;
    assert_eq!((status, code(&answer)), (403, "email_not_verified"));

    let email = unique_email("customer");
    body = capecontrol_tests::registration(&email);
    body["role"] = json!("customer");
    api.register(&body).await;
    let customer = api.login(&email).await;
    let (status, answer) = api.get("/earnings", &customer).await;
    assert_eq!((status, code(&answer)), (403, "forbidden"));

    let (status, answer) = api.get("/earnings", "").await;
    assert_eq!((status, code(&answer)), (401, "invalid_access_token"));
}

#[tokio::test]
#[ignore = "needs the running local stack; `make test` runs it"]
async fn twenty_concurrent_payouts_and_twenty_replays_over_http_keep_the_ledger_exact() {
    let api = Api::new().await;
    let admin = api.admin().await;
    let (developer, token) = api.developer().await;
    let agent = unique("hot");
    let opened = api
        .post("/earnings/agents", &json!({"agent_id": agent}), &token)
        .await;
    assert_eq!(opened.0, 201);
    let sale = json!({"developer_id": developer, "agent_id": agent, "sale_id": unique("s"),
                      "amount": "100.00", "currency": "USD"});
    let replays = join_all((0..20).map(|_| api.post("/earnings/sales", &sale, &admin))).await;
    assert!(replays.iter().all(|r| r == &replays[0]), "{replays:?}");
    assert_eq!(replays[0].0, 201);
    assert_eq!(replays[0].1["record"]["balance"], "70.00", "credited once");

    let payouts = (0..20).map(|_| {
        let body = json!({"developer_id": developer, "agent_id": agent,
                          "payout_id": unique("p"), "amount": "6.00"});
        let api = &api;
        let admin = &admin;
        async move { api.post("/earnings/payouts", &body, admin).await }
    });
    let results = join_all(payouts).await;
    let paid = results.iter().filter(|(status, _)| *status == 201).count();
    let short = results
        .iter()
        .filter(|(status, body)| *status == 409 && code(body) == "insufficient_balance")
        .count();
    assert_eq!((paid, short), (11, 9), "{results:?}");
    let (_, view) = api.get(&format!("/earnings/{agent}"), &token).await;
    assert_eq!(view["record"]["balance"], "4.00");
    assert_eq!(view["record"]["total_paid_out"], "66.00");
}
