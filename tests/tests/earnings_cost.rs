//! What each earnings request costs in DynamoDB calls, counted by an interceptor on the
//! client the handler uses: the figures the README gives.

use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::get_item::GetItemInput;
use aws_sdk_dynamodb::operation::query::QueryInput;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
use capecontrol_shared::store::users::Role;
use capecontrol_tests::earnings::{open_agent, payout, sale, seed_user, send};
use capecontrol_tests::TestStack;
use std::sync::{Arc, Mutex};

/// The operation names of every call made through the client, in order.
#[derive(Debug, Clone, Default)]
struct Calls(Arc<Mutex<Vec<String>>>);

impl Calls {
    /// The calls since the last take, sorted (concurrent reads arrive in either order).
    fn take(&self) -> Vec<String> {
        let mut calls = std::mem::take(&mut *self.0.lock().expect("lock"));
        calls.sort();
        calls
    }
}

impl Intercept for Calls {
    fn name(&self) -> &'static str {
        "count-dynamodb-calls"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let input = context.input();
        let name = if input.downcast_ref::<GetItemInput>().is_some() {
            "GetItem"
        } else if input.downcast_ref::<QueryInput>().is_some() {
            "Query"
        } else if input.downcast_ref::<TransactWriteItemsInput>().is_some() {
            "TransactWriteItems"
        } else {
            "other"
        };
        self.0.lock().expect("lock").push(name.to_owned());
        Ok(())
    }
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn a_sale_or_payout_is_four_calls_in_three_round_trips_and_a_replay_three_reads() {
    let mut stack = TestStack::new().await.expect("stack");
    let admin = seed_user(&stack.state, Role::Admin, true).await;
    let developer = seed_user(&stack.state, Role::Developer, true).await;
    open_agent(&stack.state, &developer, "a-1").await;
    let calls = Calls::default();
    let config = aws_sdk_dynamodb::config::Builder::from(&stack.aws)
        .interceptor(calls.clone())
        .build();
    stack.state.dynamo = aws_sdk_dynamodb::Client::from_conf(config);
    let state = &stack.state;

    let body = sale(&developer.id, "a-1", "s-1", "10.00");
    assert_eq!(
        send(state, "POST", "/earnings/sales", Some(&body), &admin.token)
            .await
            .0,
        201
    );
    let posting = names(&["GetItem", "GetItem", "GetItem", "TransactWriteItems"]);
    assert_eq!(
        calls.take(),
        posting,
        "caller, then record and sale id, then one transaction"
    );
    assert_eq!(
        send(state, "POST", "/earnings/sales", Some(&body), &admin.token)
            .await
            .0,
        201
    );
    assert_eq!(
        calls.take(),
        names(&["GetItem", "GetItem", "GetItem"]),
        "a replay writes nothing"
    );

    let body = payout(&developer.id, "a-1", "p-1", "1.00");
    assert_eq!(
        send(
            state,
            "POST",
            "/earnings/payouts",
            Some(&body),
            &admin.token
        )
        .await
        .0,
        201
    );
    assert_eq!(calls.take(), posting);

    assert_eq!(
        send(state, "GET", "/earnings/a-1", None, &developer.token)
            .await
            .0,
        200
    );
    assert_eq!(calls.take(), names(&["GetItem", "GetItem", "Query"]));
    assert_eq!(
        send(state, "GET", "/earnings/a-1", None, &admin.token)
            .await
            .0,
        200
    );
    assert_eq!(
        calls.take(),
        names(&["GetItem", "GetItem", "GetItem", "Query"]),
        "and the owner"
    );
    assert_eq!(
        send(state, "GET", "/earnings", None, &developer.token)
            .await
            .0,
        200
    );
    assert_eq!(calls.take(), names(&["GetItem", "Query"]));
}
