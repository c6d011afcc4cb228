//! Test support: a fresh table and signing secret per test on the local emulator, function
//! state pointed at them, API Gateway event fixtures, and an HTTP client for the running stack.
//!
//! The emulator's address comes from `AWS_ENDPOINT_URL` and the table definition (written
//! from `template.yaml`) from `TABLE_DEFINITION_FILE`; `make test` sets both.

use anyhow::{bail, Context};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use capecontrol_shared::config::Settings;
use capecontrol_shared::state::AppState;
use capecontrol_shared::store::Item;
use serde_json::Value;
use std::path::PathBuf;

pub mod account;
pub mod admin_routes;
pub mod api;
pub mod capacity;
pub mod contract;
pub mod earnings;
pub mod local;

/// One isolated environment: its own table and secret, and function state using them.
#[derive(Debug)]
pub struct TestStack {
    pub state: AppState,
    pub aws: aws_config::SdkConfig,
    pub secret_id: String,
}

impl TestStack {
    pub async fn new() -> anyhow::Result<Self> {
        Self::with_settings(|_| {}).await
    }

    /// A stack whose settings `adjust` changes (a short grace window, say).
    pub async fn with_settings(adjust: impl FnOnce(&mut Settings)) -> anyhow::Result<Self> {
        let aws = aws_config().await?;
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let table = format!("test-{suffix}");
        let secret_id = format!("test-signing-{suffix}");
        create_table(&aws, &table).await?;
        create_secret(&aws, &secret_id).await?;
        create_sender_identity(&aws).await?;
        let mut settings = Settings::from_lookup(|name| match name {
            "TABLE_NAME" => Some(table.clone()),
            "SIGNING_SECRET_ARN" => Some(secret_id.clone()),
            _ => None,
        })?;
        adjust(&mut settings);
        let state = AppState::new(settings, &aws);
        Ok(Self {
            state,
            aws,
            secret_id,
        })
    }

    /// A stack with enumeration-safe registration off: register answers 201 or 409.
    pub async fn revealing() -> anyhow::Result<Self> {
        Self::with_settings(|s| s.enumeration_safe_registration = false).await
    }

    pub fn dynamo(&self) -> &aws_sdk_dynamodb::Client {
        &self.state.dynamo
    }

    /// Every item of the table (tests only: the functions never scan).
    pub async fn all_items(&self) -> anyhow::Result<Vec<Item>> {
        let items = self
            .dynamo()
            .scan()
            .table_name(self.state.table())
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .context("scan the test table")?;
        Ok(items)
    }

    /// The items whose `entity` attribute is `entity`.
    pub async fn items_of(&self, entity: &str) -> anyhow::Result<Vec<Item>> {
        let all = self.all_items().await?;
        Ok(all
            .into_iter()
            .filter(|item| string(item, "entity") == Some(entity))
            .collect())
    }

    /// Puts a new AWSCURRENT version of the signing secret (the old one becomes AWSPREVIOUS).
    pub async fn rotate_signing_key(&self) -> anyhow::Result<()> {
        aws_sdk_secretsmanager::Client::new(&self.aws)
            .put_secret_value()
            .secret_id(&self.secret_id)
            .secret_string(random_key())
            .send()
            .await
            .context("rotate the signing secret")?;
        Ok(())
    }
}

pub fn string<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|value| value.as_s().ok())
        .map(String::as_str)
}

pub async fn aws_config() -> anyhow::Result<aws_config::SdkConfig> {
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) if url.starts_with("http://127.0.0.1:") => {}
        _ => bail!(
            "AWS_ENDPOINT_URL must point at the local emulator; run the tests with `make test`"
        ),
    }
    Ok(aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(capecontrol_shared::state::https_client())
        .region(aws_config::Region::new("us-east-1"))
        .load()
        .await)
}

/// The emulator refuses mail from an unverified sender, as SES does outside its sandbox rules.
async fn create_sender_identity(aws: &aws_config::SdkConfig) -> anyhow::Result<()> {
    let sender = Settings::from_lookup(|name| match name {
        "TABLE_NAME" | "SIGNING_SECRET_ARN" => Some("unused".to_owned()),
        _ => None,
    })?
    .mail_sender;
    let result = aws_sdk_sesv2::Client::new(aws)
        .create_email_identity()
        .email_identity(&sender)
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_already_exists_exception()) =>
        {
            Ok(())
        }
        Err(error) => Err(anyhow::anyhow!(
            "create the sender identity: {}",
            aws_sdk_sesv2::error::DisplayErrorContext(&error)
        )),
    }
}

/// A message the emulator's SES accepted (it keeps the HTML part as the body).
#[derive(Debug, Clone)]
pub struct SentMail {
    pub subject: String,
    pub html: String,
}

impl SentMail {
    /// The `token` parameter of the first link in the message.
    pub fn token(&self) -> Option<String> {
        let start = self.html.find("href=\"")? + "href=\"".len();
        let end = self.html[start..].find('"')? + start;
        let href = self.html[start..end].replace("&amp;", "&");
        let url = url_query_token(&href)?;
        Some(url)
    }

    pub fn link(&self) -> Option<String> {
        let start = self.html.find("href=\"")? + "href=\"".len();
        let end = self.html[start..].find('"')? + start;
        Some(self.html[start..end].replace("&amp;", "&"))
    }
}

fn url_query_token(href: &str) -> Option<String> {
    let (_, query) = href.split_once('?')?;
    let mut values = query
        .split('&')
        .filter_map(|pair| pair.strip_prefix("token="));
    let token = values.next()?.to_owned();
    values.next().is_none().then_some(token)
}

/// Every message the emulator's SES accepted for `recipient`, oldest first.
pub async fn mails_to(recipient: &str) -> anyhow::Result<Vec<SentMail>> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").context("AWS_ENDPOINT_URL")?;
    let state: Value = reqwest::get(format!("{endpoint}/moto-api/data.json"))
        .await
        .context("read the emulator's state")?
        .json()
        .await
        .context("parse the emulator's state")?;
    let empty = Vec::new();
    let messages = state["ses"]["Message"].as_array().unwrap_or(&empty);
    Ok(messages
        .iter()
        .filter(|m| {
            m["destinations"]["ToAddresses"]
                .as_array()
                .is_some_and(|to| to.iter().any(|a| a.as_str() == Some(recipient)))
        })
        .map(|m| SentMail {
            subject: m["subject"].as_str().unwrap_or_default().to_owned(),
            html: m["body"].as_str().unwrap_or_default().to_owned(),
        })
        .collect())
}

/// The subjects of every message sent to `recipient`, oldest first.
pub async fn mail_subjects(recipient: &str) -> anyhow::Result<Vec<String>> {
    Ok(mails_to(recipient)
        .await?
        .into_iter()
        .map(|m| m.subject)
        .collect())
}

/// How many verification links and how many "someone tried to register" notes `recipient`
/// received: one account and N-1 attempts after N registrations of one address.
pub async fn registration_mail_counts(recipient: &str) -> anyhow::Result<(usize, usize)> {
    let subjects = mail_subjects(recipient).await?;
    let count = |prefix: &str| subjects.iter().filter(|s| s.starts_with(prefix)).count();
    Ok((count("Confirm"), count("Someone tried")))
}

/// A fresh address, so that mail assertions see only this test's messages.
pub fn unique_email(tag: &str) -> String {
    format!("{tag}-{}@example.com", uuid::Uuid::new_v4().simple())
}

/// The base URL of the running local stack (`make test` sets it); never anything but loopback.
pub fn local_api_url() -> String {
    let base = std::env::var("CAPECONTROL_API_URL").expect("CAPECONTROL_API_URL is set");
    assert!(
        base.starts_with("http://127.0.0.1:"),
        "only a local stack: {base}"
    );
    base
}

fn random_key() -> String {
    let a = uuid::Uuid::new_v4().simple().to_string();
    let b = uuid::Uuid::new_v4().simple().to_string();
    format!("{a}{b}")
}

async fn create_secret(aws: &aws_config::SdkConfig, name: &str) -> anyhow::Result<()> {
    aws_sdk_secretsmanager::Client::new(aws)
        .create_secret()
        .name(name)
        .secret_string(random_key())
        .send()
        .await
        .context("create the signing secret")?;
    Ok(())
}

fn definition() -> anyhow::Result<Value> {
    let path = std::env::var("TABLE_DEFINITION_FILE")
        .map(PathBuf::from)
        .context("TABLE_DEFINITION_FILE is not set; run the tests with `make test`")?;
    let text = std::fs::read_to_string(&path).with_context(|| format!("read {path:?}"))?;
    serde_json::from_str(&text).context("parse the table definition")
}

fn text<'a>(value: &'a Value, key: &str) -> anyhow::Result<&'a str> {
    value[key]
        .as_str()
        .with_context(|| format!("table definition lacks {key}"))
}

fn key_schema(value: &Value) -> anyhow::Result<Vec<KeySchemaElement>> {
    let elements = value.as_array().context("KeySchema is not a list")?;
    elements
        .iter()
        .map(|element| {
            Ok(KeySchemaElement::builder()
                .attribute_name(text(element, "AttributeName")?)
                .key_type(KeyType::from(text(element, "KeyType")?))
                .build()?)
        })
        .collect()
}

/// Creates `name` exactly as `template.yaml` defines the table.
async fn create_table(aws: &aws_config::SdkConfig, name: &str) -> anyhow::Result<()> {
    let definition = definition()?;
    let attributes = definition["AttributeDefinitions"]
        .as_array()
        .context("AttributeDefinitions")?
        .iter()
        .map(|a| {
            Ok(AttributeDefinition::builder()
                .attribute_name(text(a, "AttributeName")?)
                .attribute_type(ScalarAttributeType::from(text(a, "AttributeType")?))
                .build()?)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let empty = Vec::new();
    let indexes = definition["GlobalSecondaryIndexes"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .map(|index| {
            let projection = index["Projection"]["ProjectionType"]
                .as_str()
                .unwrap_or("ALL");
            Ok(GlobalSecondaryIndex::builder()
                .index_name(text(index, "IndexName")?)
                .set_key_schema(Some(key_schema(&index["KeySchema"])?))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(projection))
                        .build(),
                )
                .build()?)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    aws_sdk_dynamodb::Client::new(aws)
        .create_table()
        .table_name(name)
        .set_attribute_definitions(Some(attributes))
        .set_key_schema(Some(key_schema(&definition["KeySchema"])?))
        .set_global_secondary_indexes((!indexes.is_empty()).then_some(indexes))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "create table: {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(&e)
            )
        })?;
    Ok(())
}

/// The three event shapes a function receives, each a checked-in fixture in `tests/fixtures/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    HttpApiV2,
    RestApiV1,
    FunctionUrl,
}

impl EventKind {
    pub const ALL: [Self; 3] = [Self::HttpApiV2, Self::RestApiV1, Self::FunctionUrl];

    fn fixture(self) -> &'static str {
        match self {
            Self::HttpApiV2 => "apigw-http-v2",
            Self::RestApiV1 => "apigw-rest-v1",
            Self::FunctionUrl => "function-url",
        }
    }

    /// The source IP each fixture's request context carries (its X-Forwarded-For differs).
    pub fn source_ip(self) -> &'static str {
        match self {
            Self::HttpApiV2 => "203.0.113.10",
            Self::RestApiV1 => "203.0.113.20",
            Self::FunctionUrl => "203.0.113.30",
        }
    }
}

/// A fixture event adjusted for one request, then parsed as lambda_http parses what Lambda
/// delivers.
#[derive(Debug, Clone)]
pub struct Event {
    kind: EventKind,
    value: Value,
}

impl Event {
    pub fn new(kind: EventKind, path: &str) -> anyhow::Result<Self> {
        let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(format!("{}.json", kind.fixture()));
        let text = std::fs::read_to_string(&file).with_context(|| format!("read {file:?}"))?;
        let event = Self {
            kind,
            value: serde_json::from_str(&text)?,
        };
        Ok(event.path(path))
    }

    /// An HTTP API v2 event, the shape the deployed stack sends.
    pub fn post(path: &str, body: &Value) -> anyhow::Result<lambda_http::Request> {
        Self::new(EventKind::HttpApiV2, path)?.json(body).request()
    }

    pub fn path(mut self, path: &str) -> Self {
        match self.kind {
            EventKind::RestApiV1 => {
                self.value["path"] = Value::from(path);
                self.value["resource"] = Value::from(path);
                self.value["requestContext"]["path"] = Value::from(format!("/prod{path}"));
                self.value["requestContext"]["resourcePath"] = Value::from(path);
            }
            EventKind::HttpApiV2 | EventKind::FunctionUrl => {
                self.value["rawPath"] = Value::from(path);
                self.value["requestContext"]["http"]["path"] = Value::from(path);
                if self.kind == EventKind::HttpApiV2 {
                    let route = Value::from(format!("POST {path}"));
                    self.value["routeKey"] = route.clone();
                    self.value["requestContext"]["routeKey"] = route;
                }
            }
        }
        self
    }

    pub fn method(mut self, method: &str) -> Self {
        match self.kind {
            EventKind::RestApiV1 => {
                self.value["httpMethod"] = Value::from(method);
                self.value["requestContext"]["httpMethod"] = Value::from(method);
            }
            _ => self.value["requestContext"]["http"]["method"] = Value::from(method),
        }
        self
    }

    /// Sets the query string (already encoded), as each event shape carries it: HTTP API v2
    /// and function URLs in `rawQueryString` and in `queryStringParameters` with a repeated
    /// key's values joined by commas (as API Gateway does), REST v1 in
    /// `multiValueQueryStringParameters` and, for each key, its last value in
    /// `queryStringParameters`.
    pub fn query(mut self, pairs: &[(&str, &str)]) -> Self {
        let raw: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut multi: serde_json::Map<String, Value> = serde_json::Map::new();
        for (key, value) in pairs {
            let values = multi
                .entry(*key)
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(values) = values {
                values.push(Value::from(*value));
            }
        }
        let single = |join: bool| -> serde_json::Map<String, Value> {
            multi
                .iter()
                .map(|(key, values)| {
                    let list: Vec<&str> = values
                        .as_array()
                        .map(|v| v.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    let text = if join {
                        list.join(",")
                    } else {
                        list.last().copied().unwrap_or_default().to_owned()
                    };
                    (key.clone(), Value::from(text))
                })
                .collect()
        };
        if self.kind == EventKind::RestApiV1 {
            self.value["queryStringParameters"] = Value::Object(single(false));
            self.value["multiValueQueryStringParameters"] = Value::Object(multi);
        } else {
            self.value["queryStringParameters"] = Value::Object(single(true));
            self.value["rawQueryString"] = Value::from(raw.join("&"));
        }
        self
    }

    /// Sets a path parameter, as API Gateway sends one for a route such as `/x/{id}`.
    pub fn path_parameter(mut self, name: &str, value: &str) -> Self {
        self.value["pathParameters"][name] = Value::from(value);
        self
    }

    pub fn json(self, body: &Value) -> Self {
        self.raw_body(&body.to_string(), false)
    }

    pub fn raw_body(mut self, body: &str, base64_encoded: bool) -> Self {
        self.value["body"] = Value::from(body);
        self.value["isBase64Encoded"] = Value::Bool(base64_encoded);
        self
    }

    /// Sets a header (replacing one of the same name, whatever its case).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        for field in ["headers", "multiValueHeaders"] {
            let Some(headers) = self.value[field].as_object_mut() else {
                continue;
            };
            headers.retain(|key, _| !key.eq_ignore_ascii_case(name));
            let entry = if field == "headers" {
                Value::from(value)
            } else {
                Value::from(vec![value])
            };
            headers.insert(name.to_owned(), entry);
        }
        self
    }

    pub fn without_header(mut self, name: &str) -> Self {
        for field in ["headers", "multiValueHeaders"] {
            if let Some(headers) = self.value[field].as_object_mut() {
                headers.retain(|key, _| !key.eq_ignore_ascii_case(name));
            }
        }
        self
    }

    pub fn request(self) -> anyhow::Result<lambda_http::Request> {
        lambda_http::request::from_str(&self.value.to_string()).context("parse the event")
    }
}

/// A response body as JSON (`Null` when empty).
pub fn body_json(response: &lambda_http::Response<lambda_http::Body>) -> Value {
    match response.body() {
        lambda_http::Body::Text(text) => serde_json::from_str(text).unwrap_or(Value::Null),
        lambda_http::Body::Binary(bytes) => serde_json::from_slice(bytes).unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

pub const STRONG_PASSWORD: &str = "violet anchor drifts past 9 moons";

/// A registration body with every field valid.
pub fn registration(email: &str) -> Value {
    serde_json::json!({
        "email": email,
        "password": STRONG_PASSWORD,
        "first_name": "Thandi",
        "last_name": "Mokoena",
        "role": "developer",
        "experience": "advanced",
        "accept_terms": true,
        "accept_privacy": true,
    })
}

/// The functions whose routes `call::post_to` reaches.
#[derive(Debug, Clone, Copy)]
pub enum Handler {
    Reset,
    Verify,
}

/// In-process calls of each route's handler, with HTTP API v2 events.
pub mod call {
    use super::*;
    use lambda_http::{Body, Response};

    pub async fn register(state: &AppState, body: &Value) -> Response<Body> {
        ::register::handle(state, Event::post("/auth/register", body).expect("event")).await
    }

    pub async fn login(state: &AppState, email: &str, password: &str) -> Response<Body> {
        let body = serde_json::json!({ "email": email, "password": password });
        ::login::handle(state, Event::post("/auth/login", &body).expect("event")).await
    }

    pub async fn refresh(state: &AppState, refresh_token: &str) -> Response<Body> {
        let body = serde_json::json!({ "refresh_token": refresh_token });
        ::refresh::handle(state, Event::post("/auth/refresh", &body).expect("event")).await
    }

    pub async fn logout(state: &AppState, refresh_token: &str) -> Response<Body> {
        let body = serde_json::json!({ "refresh_token": refresh_token });
        ::refresh::handle(state, Event::post("/auth/logout", &body).expect("event")).await
    }

    pub async fn logout_all(state: &AppState, access_token: &str) -> Response<Body> {
        let event = Event::new(EventKind::HttpApiV2, "/auth/logout-all")
            .expect("event")
            .without_header("content-type")
            .raw_body("", false)
            .header("authorization", &format!("Bearer {access_token}"));
        ::refresh::handle(state, event.request().expect("request")).await
    }

    pub async fn post_to(
        handler: Handler,
        state: &AppState,
        path: &str,
        body: &Value,
    ) -> Response<Body> {
        let request = Event::post(path, body).expect("event");
        match handler {
            Handler::Reset => ::reset::handle(state, request).await,
            Handler::Verify => ::verify::handle(state, request).await,
        }
    }

    pub async fn post_bearer(
        state: &AppState,
        path: &str,
        access_token: &str,
        body: &Value,
    ) -> Response<Body> {
        let event = Event::new(EventKind::HttpApiV2, path)
            .expect("event")
            .json(body)
            .header("authorization", &format!("Bearer {access_token}"));
        ::reset::handle(state, event.request().expect("request")).await
    }

    /// Registers `email` and logs in: the login response body.
    pub async fn signed_in(state: &AppState, email: &str) -> Value {
        let registered = register(state, &registration(email)).await;
        let status = registered.status().as_u16();
        assert!(
            status == 201 || status == 202,
            "{status} {}",
            body_json(&registered)
        );
        let response = login(state, email, STRONG_PASSWORD).await;
        assert_eq!(response.status(), 200, "{}", body_json(&response));
        body_json(&response)
    }
}

pub fn token(body: &Value, name: &str) -> String {
    body[name]
        .as_str()
        .unwrap_or_else(|| panic!("no {name} in {body}"))
        .to_owned()
}
