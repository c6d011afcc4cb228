//! A client of the running local stack for end-to-end tests (`make test` starts the stack and
//! sets `CAPECONTROL_API_URL` and `TABLE_NAME`): JSON calls with a bearer token, and the table
//! shortcuts for what other flows would do (verification) or the operator does (`make admin`).

use aws_sdk_dynamodb::types::AttributeValue;
use capecontrol_admin::{grant, Target};
use capecontrol_shared::email::Email;
use capecontrol_shared::password::Hasher;
use capecontrol_shared::store::{self as keys, credentials, users};
use reqwest::{Client, Method};
use serde_json::{json, Value};

#[derive(Debug)]
pub struct Api {
    base: String,
    client: Client,
    pub dynamo: aws_sdk_dynamodb::Client,
    pub table: String,
}

impl Api {
    pub async fn new() -> Self {
        let base = std::env::var("CAPECONTROL_API_URL").expect("CAPECONTROL_API_URL is set");
        assert!(
            base.starts_with("http://127.0.0.1:"),
            "only a local stack: {base}"
        );
        let aws = crate::aws_config().await.expect("emulator config");
        Self {
            base,
            client: Client::new(),
            dynamo: aws_sdk_dynamodb::Client::new(&aws),
            table: std::env::var("TABLE_NAME").expect("TABLE_NAME is set"),
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        token: &str,
    ) -> (u16, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("the stack answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, body: &Value, token: &str) -> (u16, Value) {
        self.call(Method::POST, path, Some(body), token).await
    }

    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.call(Method::GET, path, None, token).await
    }

    pub async fn login(&self, email: &str) -> String {
        let body = json!({"email": email, "password": crate::STRONG_PASSWORD});
        let (status, answer) = self.post("/auth/login", &body, "").await;
        assert_eq!(status, 200, "{answer}");
        answer["access_token"].as_str().expect("token").to_owned()
    }

    /// A registered, verified developer's id and access token.
    pub async fn developer(&self) -> (String, String) {
        let email = crate::unique_email("dev");
        self.register(&crate::registration(&email)).await;
        let id = self.user_id(&email).await;
        self.mark_verified(&id, &email).await;
        (id, self.login(&email).await)
    }

    /// Registers; the stack may answer 201 or, in enumeration-safe mode, 202 without the user.
    pub async fn register(&self, body: &Value) {
        let (status, answer) = self.post("/auth/register", body, "").await;
        assert!(status == 201 || status == 202, "{status} {answer}");
    }

    /// The user id of a registered address, from its credentials item.
    pub async fn user_id(&self, email: &str) -> String {
        let email = Email::parse(email).expect("email");
        let key = keys::key(credentials::pk(&email), credentials::SK);
        let item = self
            .dynamo
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .expect("read credentials")
            .item
            .expect("registered");
        let id = item
            .get("user_id")
            .and_then(|v| v.as_s().ok())
            .expect("user_id");
        id.clone()
    }

    /// What email verification (another function's work) will do: both items, in step.
    pub async fn mark_verified(&self, id: &str, email: &str) {
        let user = users::UserId::parse(id).expect("user id");
        let email = Email::parse(email).expect("email");
        for key in [
            keys::key(users::pk(&user), users::PROFILE_SK),
            keys::key(credentials::pk(&email), credentials::SK),
        ] {
            self.dynamo
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key))
                .update_expression("SET is_verified = :yes")
                .expression_attribute_values(":yes", AttributeValue::Bool(true))
                .send()
                .await
                .expect("mark verified");
        }
    }

    /// An admin made by the `make admin` tool, logged in over HTTP: the access token.
    pub async fn admin(&self) -> String {
        self.admin_with_id().await.1
    }

    /// An admin made by the `make admin` tool, logged in over HTTP: its id and access token.
    pub async fn admin_with_id(&self) -> (String, String) {
        let email = crate::unique_email("ops");
        let hasher = Hasher::owasp();
        let target = Target {
            dynamo: &self.dynamo,
            table: &self.table,
            hasher: &hasher,
            audit_retention: time::Duration::days(1),
        };
        let parsed = Email::parse(&email).expect("email");
        grant(&target, &parsed, crate::STRONG_PASSWORD)
            .await
            .expect("grant");
        let token = self.login(&email).await;
        (self.user_id(&email).await, token)
    }
}
