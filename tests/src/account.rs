//! Test support for the account routes: in-process calls of the account handler, and the
//! table's items as sets of keys and texts, to show what a deletion leaves.

use capecontrol_shared::erasure;
use capecontrol_shared::state::AppState;
use capecontrol_shared::store::Item;
use lambda_http::{Body, Response};
use serde_json::Value;
use std::collections::BTreeSet;

use crate::contract::{Observed, Spec};
use crate::{body_json, string};

/// A status and a JSON body from the account handler. Every answer is checked against
/// `openapi.yaml` first, as the end-to-end client checks it; one to a route the spec does not
/// have (another method on a path of the function) only for its error body's shape.
pub async fn send(
    state: &AppState,
    method: &str,
    path: &str,
    body: Option<&Value>,
    token: &str,
) -> (u16, Value) {
    let request = crate::earnings::request(crate::EventKind::HttpApiV2, method, path, body, token);
    let response = ::account::handle(state, request).await;
    if let Err(error) = check(method, path, &response) {
        panic!("the answer breaks openapi.yaml: {error:#}");
    }
    (response.status().as_u16(), body_json(&response))
}

fn check(method: &str, path: &str, response: &Response<Body>) -> anyhow::Result<()> {
    let text = match response.body() {
        Body::Text(text) => text.as_str(),
        Body::Binary(bytes) => std::str::from_utf8(bytes)?,
        _ => "",
    };
    let spec = Spec::repository();
    let route = path.split('?').next().unwrap_or_default();
    if spec.template_of(method, route).is_none() {
        return spec.check_error_body(text);
    }
    let seen = Observed {
        status: response.status().as_u16(),
        headers: response.headers(),
        body: text,
    };
    spec.check(method, path, seen)
}

/// Every page of the caller's export, following `next`: the items in the order given.
pub async fn export_all(state: &AppState, token: &str) -> (Vec<Value>, usize) {
    let mut items = Vec::new();
    let mut pages = 0;
    let mut path = "/users/me/export".to_owned();
    loop {
        let (status, page) = send(state, "GET", &path, None, token).await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        items.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page["next"].as_str() {
            Some(next) => path = format!("/users/me/export?cursor={next}"),
            None => return (items, pages),
        }
    }
}

/// An item's key as the export names it.
pub fn export_key(item: &Item) -> String {
    erasure::export_key(
        string(item, "pk").unwrap_or_default(),
        string(item, "sk").unwrap_or_default(),
    )
}

pub fn keys_of(items: &[Item]) -> BTreeSet<String> {
    items.iter().map(export_key).collect()
}

/// The items any of whose string values (or string-set members) contain one of `needles`.
pub fn items_mentioning<'a>(items: &'a [Item], needles: &[&str]) -> Vec<&'a Item> {
    items
        .iter()
        .filter(|item| {
            item.values().any(|value| {
                let mut texts: Vec<&str> =
                    value.as_s().map(|s| vec![s.as_str()]).unwrap_or_default();
                if let Ok(set) = value.as_ss() {
                    texts.extend(set.iter().map(String::as_str));
                }
                texts.iter().any(|t| needles.iter().any(|n| t.contains(n)))
            })
        })
        .collect()
}
