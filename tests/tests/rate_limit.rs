//! The fixed-window rate limiter against the emulator. `now` is passed in, so windows are
//! crossed without waiting.

use capecontrol_shared::email::Email;
use capecontrol_shared::request_meta::RequestMeta;
use capecontrol_shared::store::{key, Item};
use capecontrol_shared::throttle::rate::{
    limit_request, rate_limit, RateDecision, RateKey, RateLimit, RateScope,
};
use capecontrol_tests::{string, TestStack};
use futures::future::join_all;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

/// 100 s into the quarter hour that starts at 10:00.
const NOW: OffsetDateTime = datetime!(2026-12-04 10:01:40 UTC);
const WINDOW_START: i64 = 1_796_378_400;

fn three_per_quarter_hour() -> RateLimit {
    RateLimit {
        max: 3,
        window: Duration::minutes(15),
    }
}

fn email_key(text: &str) -> RateKey {
    RateKey::email(&Email::parse(text).expect("email"))
}

fn retry_after(decision: RateDecision) -> Option<u64> {
    match decision {
        RateDecision::Allowed => None,
        RateDecision::Limited { retry_after } => Some(retry_after.seconds()),
    }
}

async fn window_item(stack: &TestStack, pk: &str) -> Item {
    let output = stack
        .dynamo()
        .get_item()
        .table_name(stack.state.table())
        .set_key(Some(key(pk, "RATE")))
        .consistent_read(true)
        .send()
        .await
        .expect("read the window");
    output.item.expect("the window item exists")
}

fn number(item: &Item, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
}

#[tokio::test]
async fn the_fourth_request_in_a_window_is_limited_until_the_window_ends_and_not_counted() {
    let stack = TestStack::new().await.expect("stack");
    let key = email_key("ann@example.com");
    let limit = three_per_quarter_hour();
    let scope = RateScope::PASSWORD_RESET;
    for _ in 0..3 {
        let decision = rate_limit(&stack.state, scope, &key, limit, NOW).await;
        assert_eq!(decision.expect("decision"), RateDecision::Allowed);
    }
    let fourth = rate_limit(&stack.state, scope, &key, limit, NOW).await;
    assert_eq!(retry_after(fourth.expect("decision")), Some(800));
    let later = rate_limit(
        &stack.state,
        scope,
        &key,
        limit,
        NOW + Duration::seconds(790),
    )
    .await;
    assert_eq!(retry_after(later.expect("decision")), Some(10));

    let pk = format!("RATE#password_reset#email:ann@example.com#{WINDOW_START}");
    let item = window_item(&stack, &pk).await;
    assert_eq!(
        number(&item, "hits"),
        Some(3),
        "refused requests are not counted"
    );
    assert_eq!(number(&item, "ttl"), Some(WINDOW_START + 900));
    assert_eq!(string(&item, "entity"), Some("rate_window"));

    let next_window = NOW + Duration::seconds(800);
    let decision = rate_limit(&stack.state, scope, &key, limit, next_window).await;
    assert_eq!(decision.expect("decision"), RateDecision::Allowed);
}

#[tokio::test]
async fn scopes_and_keys_are_counted_apart() {
    let stack = TestStack::new().await.expect("stack");
    let limit = RateLimit {
        max: 1,
        window: Duration::hours(1),
    };
    let ann = email_key("ann@example.com");
    let ip = RateKey::ip("203.0.113.9".parse().expect("ip"));
    let cases = [
        (RateScope::PASSWORD_RESET, &ann),
        (RateScope::VERIFICATION_RESEND, &ann),
        (RateScope::REGISTER, &ann),
        (RateScope::REGISTER, &ip),
    ];
    for (scope, key) in cases {
        let first = rate_limit(&stack.state, scope, key, limit, NOW).await;
        assert_eq!(first.expect("decision"), RateDecision::Allowed, "{scope:?}");
    }
    for (scope, key) in cases {
        let second = rate_limit(&stack.state, scope, key, limit, NOW).await;
        assert_eq!(
            retry_after(second.expect("decision")),
            Some(3_500),
            "{scope:?}"
        );
    }
}

#[tokio::test]
async fn twenty_concurrent_requests_let_exactly_the_limit_through() {
    let stack = TestStack::new().await.expect("stack");
    let state = &stack.state;
    let key = &email_key("burst@example.com");
    let limit = RateLimit {
        max: 5,
        window: Duration::minutes(15),
    };
    let requests = (0..20)
        .map(|_| async move { rate_limit(state, RateScope::REGISTER, key, limit, NOW).await });
    let decisions: Vec<RateDecision> = join_all(requests)
        .await
        .into_iter()
        .map(|d| d.expect("decision"))
        .collect();
    let allowed = decisions
        .iter()
        .filter(|d| **d == RateDecision::Allowed)
        .count();
    assert_eq!(allowed, 5, "{decisions:?}");
    let pk = format!("RATE#register#email:burst@example.com#{WINDOW_START}");
    assert_eq!(number(&window_item(&stack, &pk).await, "hits"), Some(5));
}

fn meta_from(ip: &str) -> RequestMeta {
    RequestMeta {
        request_id: "r".into(),
        source_ip: Some(ip.into()),
        user_agent: None,
        endpoint: "POST /auth/password-reset",
    }
}

#[tokio::test]
async fn a_request_is_limited_by_email_and_by_source_ip_and_each_refusal_is_audited_unnamed() {
    let stack = TestStack::with_settings(|s| {
        s.rate_limits.per_email.max = 2;
        s.rate_limits.per_ip.max = 3;
    })
    .await
    .expect("stack");
    let meta = meta_from("198.51.100.7");
    let ann = Email::parse("ann@example.com").expect("email");
    let bob = Email::parse("bob@example.com").expect("email");
    let scope = RateScope::PASSWORD_RESET;
    let mut decisions = Vec::new();
    for email in [&ann, &ann, &ann, &bob] {
        let decision = limit_request(&stack.state, scope, Some(email), &meta, NOW).await;
        decisions.push(retry_after(decision.expect("decision")));
    }
    // The third request of ann is over her limit but still counted against the address; bob's
    // then finds the address's limit reached.
    assert_eq!(decisions, [None, None, Some(800), Some(3_500)]);

    let audit = stack.items_of("audit").await.expect("scan");
    let limited_by: Vec<_> = audit
        .iter()
        .filter(|i| string(i, "event_type") == Some("rate_limited"))
        .map(|i| string(i, "metadata").expect("metadata").to_owned())
        .collect();
    assert_eq!(limited_by.len(), 2);
    assert!(limited_by
        .iter()
        .any(|m| m.contains("\"limited_by\":\"email\"")));
    assert!(limited_by
        .iter()
        .any(|m| m.contains("\"limited_by\":\"ip\"")));
    assert!(limited_by
        .iter()
        .all(|m| m.contains("\"scope\":\"password_reset\"")));
    assert!(
        !format!("{audit:?}").contains("example.com"),
        "no address in the audit"
    );
}
