//! The end-to-end tests' HTTP client for the running local stack. Every answer it receives is
//! checked against `openapi.yaml` before the test sees it: an undocumented status, a missing
//! required header or a body that does not match the route's schema fails the test.

use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder};
use serde_json::Value;

use crate::contract::{Observed, Spec};

#[derive(Debug, Clone)]
pub struct Api {
    base: String,
    client: reqwest::Client,
}

/// An answer, already checked against the spec.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
}

impl Answer {
    /// The body as JSON; `Null` when empty.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The error code of an error answer ("" for any other).
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

/// One request being built; [`Call::send`] sends it and checks the answer.
#[derive(Debug)]
pub struct Call<'a> {
    method: Method,
    path: String,
    builder: RequestBuilder,
    spec: &'a Spec,
}

impl Api {
    /// The stack `make test` started (`CAPECONTROL_API_URL`, never anything but loopback).
    pub fn from_env() -> Self {
        Self {
            base: crate::local_api_url(),
            client: reqwest::Client::new(),
        }
    }

    pub fn request(&self, method: Method, path: &str) -> Call<'_> {
        Call {
            builder: self
                .client
                .request(method.clone(), format!("{}{path}", self.base)),
            method,
            path: path.to_owned(),
            spec: Spec::repository(),
        }
    }

    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.request(Method::POST, path).json(body).send().await
    }

    pub async fn get(&self, path: &str, access_token: &str) -> Answer {
        self.request(Method::GET, path)
            .bearer(access_token)
            .send()
            .await
    }
}

impl Call<'_> {
    pub fn json(mut self, body: &Value) -> Self {
        self.builder = self.builder.json(body);
        self
    }

    pub fn bearer(mut self, access_token: &str) -> Self {
        self.builder = self.builder.bearer_auth(access_token);
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.builder = self.builder.header(name, value);
        self
    }

    /// Sends the request; panics (failing the test) when the answer breaks the contract.
    pub async fn send(self) -> Answer {
        let (method, path, spec) = (self.method.clone(), self.path.clone(), self.spec);
        let answer = self.fetch().await;
        let seen = Observed {
            status: answer.status,
            headers: &answer.headers,
            body: &answer.text,
        };
        if let Err(error) = spec.check(method.as_str(), &path, seen) {
            panic!("the answer breaks openapi.yaml: {error:#}");
        }
        answer
    }

    /// Sends a request to a path the API does not have (the local router answers it): only
    /// its error body's shape is checked.
    pub async fn send_unrouted(self) -> Answer {
        let spec = self.spec;
        let answer = self.fetch().await;
        if let Err(error) = spec.check_error_body(&answer.text) {
            panic!("the router's answer is not an Error: {error:#}");
        }
        answer
    }

    async fn fetch(self) -> Answer {
        let response = self.builder.send().await.expect("the stack answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("the body arrives");
        Answer {
            status,
            headers,
            text,
        }
    }
}
