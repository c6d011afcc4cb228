//! The API contract, `openapi.yaml` at the repository root: its routes, and a check of one
//! answer (status, headers, body) against the schema the spec gives for its route and status.
//! The end-to-end client ([`crate::api::Api`]) runs every answer it receives through
//! [`Spec::check`].
//!
//! Response objects may be `$ref`s to `#/components/responses/...` (OpenAPI references, which
//! this module follows); the body schemas are JSON Schema 2020-12, compiled with the whole
//! document as their root so that `#/components/schemas/...` references resolve.

use anyhow::{anyhow, bail, Context};
use jsonschema::{Draft, Validator};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// The HTTP methods an OpenAPI path item can hold.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// A route: upper-case method and path template, as `template.yaml` writes them.
pub type Route = (String, String);

/// What an answer looked like, for [`Spec::check`].
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    pub status: u16,
    pub headers: &'a reqwest::header::HeaderMap,
    pub body: &'a str,
}

#[derive(Debug)]
pub struct Spec {
    document: Value,
    validators: Mutex<HashMap<String, Arc<Validator>>>,
}

/// The repository root (the workspace holding this crate).
pub fn repository_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

impl Spec {
    /// `openapi.yaml` of this repository, read once per test binary.
    pub fn repository() -> &'static Spec {
        static SPEC: OnceLock<Spec> = OnceLock::new();
        SPEC.get_or_init(|| {
            let path = repository_root().join("openapi.yaml");
            Spec::read(&path).unwrap_or_else(|error| panic!("{error:#}"))
        })
    }

    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("read {path:?}"))?;
        Self::parse(&text).with_context(|| format!("parse {path:?}"))
    }

    pub fn parse(yaml: &str) -> anyhow::Result<Self> {
        let document: Value = serde_norway::from_str(yaml).context("YAML")?;
        if !document["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1"))
        {
            bail!("not an OpenAPI 3.1 document");
        }
        Ok(Self {
            document,
            validators: Mutex::new(HashMap::new()),
        })
    }

    /// Every (method, path) the spec describes.
    pub fn routes(&self) -> BTreeSet<Route> {
        let mut routes = BTreeSet::new();
        let Some(paths) = self.document["paths"].as_object() else {
            return routes;
        };
        for (path, item) in paths {
            for method in METHODS.iter().filter(|m| item.get(**m).is_some()) {
                routes.insert((method.to_uppercase(), path.clone()));
            }
        }
        routes
    }

    /// Every documented answer: route, status and the response object (its `$ref` followed).
    pub fn responses(&self) -> Vec<(Route, String, &Value)> {
        let mut found = Vec::new();
        for (method, path) in self.routes() {
            let at = format!(
                "/paths/{}/{}/responses",
                escape(&path),
                method.to_lowercase()
            );
            let statuses = self.document.pointer(&at).and_then(Value::as_object);
            for status in statuses.into_iter().flat_map(|map| map.keys()) {
                if let Some((response, _)) = self.resolve(&format!("{at}/{status}")) {
                    found.push(((method.clone(), path.clone()), status.clone(), response));
                }
            }
        }
        found
    }

    /// The path template of the spec that `path` (concrete, without a query) falls under for
    /// `method`: a literal path before a templated one, as API Gateway picks.
    pub fn template_of(&self, method: &str, path: &str) -> Option<String> {
        let method = method.to_lowercase();
        let paths = self.document["paths"].as_object()?;
        paths
            .iter()
            .filter(|(_, item)| item.get(&method).is_some())
            .filter_map(|(template, _)| specificity(template, path).map(|s| (s, template)))
            .max_by_key(|(s, _)| *s)
            .map(|(_, template)| template.clone())
    }

    /// Checks one answer to `method path` against the spec: the status must be documented,
    /// the documented required headers present, and the body must match the schema (or be
    /// empty where the spec gives no content).
    pub fn check(&self, method: &str, path: &str, seen: Observed<'_>) -> anyhow::Result<()> {
        let path = path.split('?').next().unwrap_or_default();
        let template = self
            .template_of(method, path)
            .ok_or_else(|| anyhow!("{method} {path} is not a route of openapi.yaml"))?;
        let operation = format!("/paths/{}/{}", escape(&template), method.to_lowercase());
        let status = seen.status.to_string();
        let at = format!("{operation}/responses/{status}");
        let response = self.resolve(&at).ok_or_else(|| {
            anyhow!("{method} {template} answered {status}, which openapi.yaml does not document")
        })?;
        let (response, at) = response;
        self.check_headers(response, seen.headers)
            .with_context(|| format!("{method} {template} {status}"))?;
        let schema_at = format!("{at}/content/application~1json/schema");
        if response["content"]["application/json"]["schema"].is_null() {
            if !seen.body.is_empty() {
                bail!("{method} {template} {status} has a body, but the spec documents none");
            }
            return Ok(());
        }
        let body: Value = serde_json::from_str(seen.body).with_context(|| {
            format!(
                "{method} {template} {status}: the body is not JSON: {:?}",
                seen.body
            )
        })?;
        let validator = self.validator(&schema_at)?;
        let errors: Vec<String> = validator
            .iter_errors(&body)
            .map(|e| format!("at {:?}: {e}", e.instance_path().to_string()))
            .collect();
        if !errors.is_empty() {
            bail!(
                "{method} {template} {status}: the body does not match openapi.yaml:\n  {}\n\
                 body: {body}",
                errors.join("\n  ")
            );
        }
        Ok(())
    }

    /// Checks a body against the shared `Error` schema alone.
    pub fn check_error_body(&self, body: &str) -> anyhow::Result<()> {
        let body: Value = serde_json::from_str(body).context("the body is not JSON")?;
        let validator = self.validator("/components/schemas/Error")?;
        let errors: Vec<String> = validator
            .iter_errors(&body)
            .map(|e| e.to_string())
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            bail!("{}: {body}", errors.join("; "))
        }
    }

    /// The object at JSON pointer `at`, following an OpenAPI `$ref` (and where it led).
    fn resolve(&self, at: &str) -> Option<(&Value, String)> {
        let mut at = at.to_owned();
        for _ in 0..8 {
            let value = self.document.pointer(&at)?;
            match value.get("$ref").and_then(Value::as_str) {
                Some(target) => at = target.strip_prefix('#')?.to_owned(),
                None => return Some((value, at)),
            }
        }
        None
    }

    fn check_headers(
        &self,
        response: &Value,
        headers: &reqwest::header::HeaderMap,
    ) -> anyhow::Result<()> {
        let Some(documented) = response["headers"].as_object() else {
            return Ok(());
        };
        for (name, header) in documented {
            let header = match header.get("$ref").and_then(Value::as_str) {
                Some(target) => target
                    .strip_prefix('#')
                    .and_then(|p| self.document.pointer(p))
                    .ok_or_else(|| anyhow!("unresolved {target}"))?,
                None => header,
            };
            if header["required"] == json!(true) && !headers.contains_key(name.as_str()) {
                bail!("the required header {name} is missing");
            }
        }
        Ok(())
    }

    /// The compiled schema at `at` (a JSON pointer into the document), compiled once.
    fn validator(&self, at: &str) -> anyhow::Result<Arc<Validator>> {
        let mut cache = self
            .validators
            .lock()
            .map_err(|_| anyhow!("validator cache poisoned"))?;
        if let Some(found) = cache.get(at) {
            return Ok(Arc::clone(found));
        }
        let validator = Arc::new(compile(&self.document, at)?);
        cache.insert(at.to_owned(), Arc::clone(&validator));
        Ok(validator)
    }
}

/// The schema at `at`, with the whole document as its root resource. The document's own
/// top-level members (`openapi`, `paths`, ...) are no JSON Schema keywords, so they only
/// carry the definitions that `$ref`s point into.
pub fn compile(document: &Value, at: &str) -> anyhow::Result<Validator> {
    let mut root = document.clone();
    let object = root.as_object_mut().context("the spec is not an object")?;
    object.insert("$ref".to_owned(), Value::from(format!("#{}", fragment(at))));
    jsonschema::options()
        .with_draft(Draft::Draft202012)
        .should_validate_formats(true)
        .build(&root)
        .map_err(|e| anyhow!("compile the schema at {at}: {e}"))
}

/// How well `template` matches `path`: None when it does not; more literal segments first.
fn specificity(template: &str, path: &str) -> Option<usize> {
    let wanted: Vec<&str> = template.trim_end_matches('/').split('/').collect();
    let given: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    if wanted.len() != given.len() {
        return None;
    }
    let mut literal = 0;
    for (w, g) in wanted.iter().zip(&given) {
        if w.starts_with('{') && w.ends_with('}') {
            if g.is_empty() {
                return None;
            }
        } else if w == g {
            literal += 1;
        } else {
            return None;
        }
    }
    Some(literal)
}

/// A JSON pointer as a URI fragment: the characters of path templates that a URI may not
/// hold, percent-encoded (RFC 6901 section 6).
fn fragment(pointer: &str) -> String {
    pointer
        .replace('%', "%25")
        .replace('{', "%7B")
        .replace('}', "%7D")
        .replace(' ', "%20")
}

/// A path as one JSON pointer token (RFC 6901).
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    fn headers() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-request-id", HeaderValue::from_static("req-1"));
        headers
    }

    fn seen<'a>(status: u16, headers: &'a HeaderMap, body: &'a str) -> Observed<'a> {
        Observed {
            status,
            headers,
            body,
        }
    }

    const ACCEPTED: &str = r#"{"status":"accepted","message":"On its way."}"#;

    #[test]
    fn a_literal_path_wins_over_a_template_and_the_method_must_exist() {
        let spec = Spec::repository();
        let at = |m: &str, p: &str| spec.template_of(m, p);
        assert_eq!(
            at("POST", "/earnings/sales").as_deref(),
            Some("/earnings/sales")
        );
        assert_eq!(
            at("GET", "/earnings/a-1").as_deref(),
            Some("/earnings/{agent_id}")
        );
        assert_eq!(
            at("GET", "/earnings/sales").as_deref(),
            Some("/earnings/{agent_id}")
        );
        assert_eq!(at("DELETE", "/earnings/a-1"), None);
        assert_eq!(at("POST", "/auth/nowhere"), None);
    }

    #[test]
    fn a_documented_answer_passes() {
        let spec = Spec::repository();
        let h = headers();
        spec.check("POST", "/auth/password-reset", seen(202, &h, ACCEPTED))
            .expect("valid");
        spec.check("POST", "/auth/logout", seen(204, &h, ""))
            .expect("valid");
        let error = r#"{"error":{"code":"invalid_reset_token","message":"Expired."}}"#;
        spec.check("POST", "/auth/password-reset/confirm", seen(400, &h, error))
            .expect("valid");
    }

    #[test]
    fn an_undocumented_status_a_wrong_code_or_a_missing_header_fails() {
        let spec = Spec::repository();
        let h = headers();
        let teapot = spec.check("POST", "/auth/password-reset", seen(418, &h, ACCEPTED));
        assert!(teapot.is_err());
        let wrong_code = r#"{"error":{"code":"invalid_reset_token","message":"Expired."}}"#;
        let verify = spec.check("POST", "/auth/verify-email", seen(400, &h, wrong_code));
        assert!(verify.is_err(), "a reset code on the verification route");
        let body_on_204 = spec.check("POST", "/auth/logout", seen(204, &h, "{}"));
        assert!(body_on_204.is_err());
        let bare = HeaderMap::new();
        let no_id = spec.check("POST", "/auth/password-reset", seen(202, &bare, ACCEPTED));
        assert!(no_id.is_err(), "x-request-id is required");
    }

    #[test]
    fn shared_schemas_are_resolved_through_refs() {
        let spec = Spec::repository();
        let h = headers();
        let check = |body: &str| spec.check("POST", "/auth/login", seen(200, &h, body));
        let pair = json!({
            "access_token": "aaa.bbb.ccc", "token_type": "Bearer", "expires_in": 900,
            "refresh_token": "A".repeat(43),
        });
        check(&pair.to_string()).expect("a valid pair");
        let mut lower = pair.clone();
        lower["token_type"] = json!("bearer");
        assert!(check(&lower.to_string()).is_err());
        let mut extra = pair;
        extra["password_hash"] = json!("$argon2id$...");
        assert!(check(&extra.to_string()).is_err(), "no undocumented fields");
    }

    #[test]
    fn a_templated_path_resolves_to_its_own_schema() {
        let spec = Spec::repository();
        let h = headers();
        let body = r#"{"error":{"code":"record_not_found","message":"No such record."}}"#;
        spec.check("GET", "/earnings/a-1", seen(404, &h, body))
            .expect("valid");
        let record = json!({
            "agent_id": "a-1", "agent_name": null,
            "developer_id": "0b7e4cf2-5d7a-4f57-9a51-2d4f0c1e9b3a", "total_sales": "6.45",
            "commission_rate": "0.3000", "revenue_share": "4.51", "last_payout_amount": "0.00",
            "last_payout_at": null, "total_paid_out": "0.00", "balance": "4.51",
            "currency": "USD", "is_active": true, "created_at": "2026-12-04T13:25:55.123Z",
            "updated_at": null,
        });
        let answer = json!({"record": record, "entries": [], "next": null});
        spec.check("GET", "/earnings/a-1", seen(200, &h, &answer.to_string()))
            .expect("a record's answer");
        let list = json!({"developer_id": record["developer_id"], "records": [record],
                          "totals": [], "next": null});
        let wrong = spec.check("GET", "/earnings/a-1", seen(200, &h, &list.to_string()));
        assert!(wrong.is_err(), "a listing is not a record's answer");
    }

    #[test]
    fn an_admin_listing_passes_with_next_and_fails_with_the_earnings_key() {
        let spec = Spec::repository();
        let h = headers();
        let entry = json!({
            "id": "6f1c2b1e-8d4a-4c3e-9b2a-1f0e9d8c7b6a",
            "user_id": "0b7e4cf2-5d7a-4f57-9a51-2d4f0c1e9b3a", "event_type": "admin_user_changed",
            "event_description": "An admin changed a user.", "ip_address": "203.0.113.1",
            "user_agent": null, "endpoint": "PATCH /admin/users/{id}", "success": true,
            "error_message": null, "metadata": {"role": "developer"},
            "created_at": "2026-12-04T13:25:55.123Z",
        });
        let page = json!({"entries": [entry], "next": "cG9z.dGFn"});
        spec.check(
            "GET",
            "/admin/audit?limit=1",
            seen(200, &h, &page.to_string()),
        )
        .expect("an audit page");
        let without_next = json!({"entries": [entry]});
        let wrong = spec.check(
            "GET",
            "/admin/audit",
            seen(200, &h, &without_next.to_string()),
        );
        assert!(wrong.is_err(), "an audit page always carries `next`");
        let mut unknown = entry;
        unknown["event_type"] = json!("login");
        let page = json!({"entries": [unknown], "next": null});
        let wrong = spec.check("GET", "/admin/audit", seen(200, &h, &page.to_string()));
        assert!(wrong.is_err(), "an event type the code does not have");
        let busy = r#"{"error":{"code":"user_busy","message":"Retry."}}"#;
        spec.check("PATCH", "/admin/users/admin", seen(409, &h, busy))
            .expect("a change's 409");
        let not_found = r#"{"error":{"code":"record_not_found","message":"No."}}"#;
        let wrong = spec.check("PATCH", "/admin/users/admin", seen(404, &h, not_found));
        assert!(wrong.is_err(), "an earnings code on the admin route");
    }

    /// The validator catches what a schema forbids: the same body passes the spec as it is
    /// and fails once one schema is deliberately wrong.
    #[test]
    fn a_deliberately_wrong_schema_makes_a_valid_body_fail() {
        let text = std::fs::read_to_string(repository_root().join("openapi.yaml")).expect("spec");
        let h = headers();
        let body = r#"{"error":{"code":"payload_too_large","message":"Too big."}}"#;
        let right = Spec::parse(&text).expect("spec");
        right
            .check("POST", "/auth/logout", seen(413, &h, body))
            .expect("valid against the real spec");

        let mut document: Value = serde_norway::from_str(&text).expect("yaml");
        let code = "/components/schemas/Error/properties/error/properties/code";
        *document.pointer_mut(code).expect("the code schema") = json!({"type": "integer"});
        let wrong = Spec {
            document,
            validators: Mutex::new(HashMap::new()),
        };
        let failure = wrong
            .check("POST", "/auth/logout", seen(413, &h, body))
            .expect_err("the wrong schema refuses the body");
        assert!(failure.to_string().contains("/error/code"), "{failure}");
    }
}
