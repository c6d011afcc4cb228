//! The ledger as a whole: totals recomputed from entries after random sequences of
//! operations, and races (concurrent in-process calls against one emulator, which applies
//! each transaction atomically, as DynamoDB does).

use capecontrol_shared::store::users::Role;
use capecontrol_tests::earnings::{open_agent, payout, sale, seed_user, send, text, Seeded};
use capecontrol_tests::TestStack;
use futures::future::join_all;
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{json, Value};
use std::str::FromStr;

fn decimal(body: &Value, pointer: &str) -> Decimal {
    Decimal::from_str(text(body, pointer)).expect("decimal")
}

fn cents(value: u64) -> String {
    format!("{}.{:02}", value / 100, value % 100)
}

/// A small deterministic generator (xorshift64*), so a failing seed can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % bound
    }
}

/// What the test expects of one record, computed independently of the function.
#[derive(Debug, Default)]
struct Model {
    total_sales: Decimal,
    revenue_share: Decimal,
    total_paid_out: Decimal,
    rate: Decimal,
    entries: usize,
}

impl Model {
    fn balance(&self) -> Decimal {
        self.revenue_share - self.total_paid_out
    }
}

async fn all_entries(stack: &TestStack, who: &Seeded, agent: &str) -> (Value, Vec<Value>) {
    let mut path = format!("/earnings/{agent}?limit=7");
    let mut entries = Vec::new();
    loop {
        let (status, page) = send(&stack.state, "GET", &path, None, &who.token).await;
        assert_eq!(status, 200, "{page}");
        entries.extend(page["entries"].as_array().cloned().unwrap_or_default());
        match page["next"].as_str() {
            Some(cursor) => path = format!("/earnings/{agent}?limit=7&cursor={cursor}"),
            None => return (page["record"].clone(), entries),
        }
    }
}

/// One random operation on `agent`, applied to the model when the function accepts it.
async fn step(
    stack: &TestStack,
    admin: &Seeded,
    developer: &Seeded,
    agent: &str,
    n: u64,
    rng: &mut Rng,
    model: &mut Model,
) {
    let state = &stack.state;
    match rng.below(10) {
        0..=4 => {
            let amount = cents(1 + rng.below(500_000));
            let body = sale(&developer.id, agent, &format!("{agent}-s{n}"), &amount);
            let (status, answer) =
                send(state, "POST", "/earnings/sales", Some(&body), &admin.token).await;
            assert_eq!(status, 201, "{answer}");
            let amount = Decimal::from_str(&amount).expect("amount");
            let commission = (amount * model.rate)
                .round_dp_with_strategy(2, RoundingStrategy::MidpointNearestEven);
            assert_eq!(
                decimal(&answer, "/entry/commission"),
                commission,
                "{answer}"
            );
            model.total_sales += amount;
            model.revenue_share += amount - commission;
            model.entries += 1;
            // Every other sale is retried at once, as a client would after a timeout.
            if n % 2 == 0 {
                let (again, replayed) =
                    send(state, "POST", "/earnings/sales", Some(&body), &admin.token).await;
                assert_eq!((again, &replayed), (201, &answer));
            }
        }
        5..=7 => {
            let amount = cents(1 + rng.below(300_000));
            let body = payout(&developer.id, agent, &format!("{agent}-p{n}"), &amount);
            let (status, answer) = send(
                state,
                "POST",
                "/earnings/payouts",
                Some(&body),
                &admin.token,
            )
            .await;
            let amount = Decimal::from_str(&amount).expect("amount");
            if amount <= model.balance() {
                assert_eq!(status, 201, "{answer}");
                model.total_paid_out += amount;
                model.entries += 1;
            } else {
                assert_eq!(status, 409, "{answer}");
                assert_eq!(answer["error"]["code"], "insufficient_balance");
            }
        }
        _ => {
            let rate = Decimal::new(i64::try_from(rng.below(10_001)).expect("rate"), 4);
            let body = json!({ "commission_rate": rate.to_string() });
            let path = format!("/earnings/{agent}");
            let (status, answer) = send(state, "PATCH", &path, Some(&body), &admin.token).await;
            assert_eq!(status, 200, "{answer}");
            model.rate = rate;
        }
    }
}

#[tokio::test]
async fn totals_recomputed_from_entries_equal_the_records_after_random_operations() {
    for seed in [0x5eed_0001_u64, 0x5eed_0002, 0x5eed_0003] {
        let stack = TestStack::new().await.expect("stack");
        let admin = seed_user(&stack.state, Role::Admin, true).await;
        let developer = seed_user(&stack.state, Role::Developer, true).await;
        let mut rng = Rng(seed);
        let agents = ["alpha", "beta"];
        let mut models = [Model::default(), Model::default()];
        for (agent, model) in agents.iter().zip(models.iter_mut()) {
            open_agent(&stack.state, &developer, agent).await;
            model.rate = Decimal::new(3_000, 4);
        }
        for n in 0..40 {
            let which = usize::try_from(rng.below(2)).expect("index");
            let agent = agents[which];
            step(
                &stack,
                &admin,
                &developer,
                agent,
                n,
                &mut rng,
                &mut models[which],
            )
            .await;
        }
        for (agent, model) in agents.iter().zip(&models) {
            let (record, entries) = all_entries(&stack, &developer, agent).await;
            check_record(&record, &entries, model, seed);
        }
    }
}

fn check_record(record: &Value, entries: &[Value], model: &Model, seed: u64) {
    let context = format!("seed {seed:#x}: {record}");
    let sum = |kind: &str, field: &str| -> Decimal {
        entries
            .iter()
            .filter(|e| e["type"] == kind)
            .map(|e| decimal(e, field))
            .sum()
    };
    for entry in entries.iter().filter(|e| e["type"] == "sale") {
        let parts = decimal(entry, "/commission") + decimal(entry, "/developer_share");
        assert_eq!(
            parts,
            decimal(entry, "/amount"),
            "the split adds up: {entry}"
        );
    }
    assert_eq!(entries.len(), model.entries, "{context}");
    assert_eq!(
        decimal(record, "/total_sales"),
        sum("sale", "/amount"),
        "{context}"
    );
    assert_eq!(
        decimal(record, "/revenue_share"),
        sum("sale", "/developer_share"),
        "{context}"
    );
    assert_eq!(
        decimal(record, "/total_paid_out"),
        sum("payout", "/amount"),
        "{context}"
    );
    let balance = decimal(record, "/revenue_share") - decimal(record, "/total_paid_out");
    assert_eq!(decimal(record, "/balance"), balance, "{context}");
    assert_eq!(
        decimal(record, "/total_sales"),
        model.total_sales,
        "{context}"
    );
    assert_eq!(
        decimal(record, "/revenue_share"),
        model.revenue_share,
        "{context}"
    );
    assert_eq!(decimal(record, "/balance"), model.balance(), "{context}");
    if let Some(latest) = entries.iter().find(|e| e["type"] == "payout") {
        assert_eq!(record["last_payout_amount"], latest["amount"], "{context}");
        assert_eq!(record["last_payout_at"], latest["created_at"], "{context}");
    }
    if let Some(newest) = entries.first() {
        assert_eq!(record["balance"], newest["balance_after"], "{context}");
    }
}

async fn funded(amount: &str) -> (TestStack, Seeded, Seeded) {
    let stack = TestStack::new().await.expect("stack");
    let admin = seed_user(&stack.state, Role::Admin, true).await;
    let developer = seed_user(&stack.state, Role::Developer, true).await;
    open_agent(&stack.state, &developer, "hot").await;
    let zero = json!({ "commission_rate": "0" });
    let (status, _) = send(
        &stack.state,
        "PATCH",
        "/earnings/hot",
        Some(&zero),
        &admin.token,
    )
    .await;
    assert_eq!(status, 200);
    let body = sale(&developer.id, "hot", "funding", amount);
    let (status, _) = send(
        &stack.state,
        "POST",
        "/earnings/sales",
        Some(&body),
        &admin.token,
    )
    .await;
    assert_eq!(status, 201);
    (stack, admin, developer)
}

#[tokio::test]
async fn twenty_concurrent_payouts_over_the_balance_pay_out_at_most_the_balance() {
    let (stack, admin, developer) = funded("100.00").await;
    let state = &stack.state;
    let (admin, developer) = (&admin, &developer);
    let payouts = (0..20).map(|i| async move {
        let body = payout(&developer.id, "hot", &format!("p-{i}"), "7.00");
        send(
            state,
            "POST",
            "/earnings/payouts",
            Some(&body),
            &admin.token,
        )
        .await
    });
    let results = join_all(payouts).await;
    let paid = results.iter().filter(|(status, _)| *status == 201).count();
    let refused = results
        .iter()
        .filter(|(status, body)| *status == 409 && body["error"]["code"] == "insufficient_balance")
        .count();
    assert_eq!((paid, refused), (14, 6), "{results:?}");
    for (_, body) in results.iter().filter(|(status, _)| *status == 201) {
        assert!(decimal(body, "/record/balance") >= Decimal::ZERO, "{body}");
    }
    let (record, entries) = all_entries(&stack, developer, "hot").await;
    assert_eq!(record["balance"], "2.00");
    assert_eq!(record["total_paid_out"], "98.00");
    assert_eq!(entries.iter().filter(|e| e["type"] == "payout").count(), 14);
}

#[tokio::test]
async fn twenty_concurrent_replays_of_one_sale_credit_it_once() {
    let (stack, admin, developer) = funded("1.00").await;
    let state = &stack.state;
    let body = sale(&developer.id, "hot", "order-42", "19.99");
    let (admin, body) = (&admin, &body);
    let replays = (0..20).map(|_| async move {
        send(state, "POST", "/earnings/sales", Some(body), &admin.token).await
    });
    let results = join_all(replays).await;
    assert!(
        results.iter().all(|(status, _)| *status == 201),
        "{results:?}"
    );
    assert!(
        results.iter().all(|(_, answer)| answer == &results[0].1),
        "one answer"
    );
    let (record, entries) = all_entries(&stack, &developer, "hot").await;
    assert_eq!(record["total_sales"], "20.99");
    assert_eq!(entries.len(), 2);
    assert_eq!(stack.items_of("sale").await.expect("scan").len(), 2);
}

#[tokio::test]
async fn twenty_concurrent_sales_with_their_own_ids_all_land() {
    let (stack, admin, developer) = funded("1.00").await;
    let state = &stack.state;
    let (admin, developer) = (&admin, &developer);
    let sales = (0..20).map(|i| async move {
        let body = sale(&developer.id, "hot", &format!("s-{i}"), "0.50");
        send(state, "POST", "/earnings/sales", Some(&body), &admin.token).await
    });
    let results = join_all(sales).await;
    assert!(
        results.iter().all(|(status, _)| *status == 201),
        "{results:?}"
    );
    let (record, entries) = all_entries(&stack, developer, "hot").await;
    assert_eq!(record["total_sales"], "11.00");
    assert_eq!(record["balance"], "11.00");
    assert_eq!(entries.len(), 21);
}
