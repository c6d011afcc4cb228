//! The routes agree in all three places: `template.yaml` (what is deployed), the local router
//! (`infra/router.py --list`, what `make dev` and the end-to-end tests serve) and
//! `openapi.yaml` (what clients are told). A route in one but not all fails here, naming the
//! route and where it is missing.

use capecontrol_shared::audit::AuditEvent;
use capecontrol_shared::fields::FIELD_CODES;
use capecontrol_tests::contract::{repository_root, Route, Spec};
use serde_norway::Value as Yaml;
use std::collections::BTreeSet;
use std::process::Command;

/// The HttpApi events of the template's functions, read here independently of the router.
fn template_routes() -> BTreeSet<Route> {
    let path = repository_root().join("template.yaml");
    let text = std::fs::read_to_string(&path).expect("read template.yaml");
    let template: Yaml = serde_norway::from_str(&text).expect("parse template.yaml");
    let resources = template["Resources"].as_mapping().expect("Resources");
    let mut routes = BTreeSet::new();
    for resource in resources.values() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let Some(events) = resource["Properties"]["Events"].as_mapping() else {
            continue;
        };
        for event in events
            .values()
            .filter(|e| e["Type"].as_str() == Some("HttpApi"))
        {
            let properties = &event["Properties"];
            let method = properties["Method"]
                .as_str()
                .expect("an HttpApi event's Method");
            let path = properties["Path"]
                .as_str()
                .expect("an HttpApi event's Path");
            routes.insert((method.to_uppercase(), path.to_owned()));
        }
    }
    routes
}

/// The project's Python (`make test` sets up `.venv`); `CAPECONTROL_PYTHON` overrides it.
fn python() -> std::path::PathBuf {
    std::env::var_os("CAPECONTROL_PYTHON")
        .map(Into::into)
        .unwrap_or_else(|| repository_root().join(".venv/bin/python"))
}

/// What the local router serves: `method<TAB>path<TAB>binary` lines of `router.py --list`.
fn router_routes() -> BTreeSet<Route> {
    let python = python();
    let output = Command::new(&python)
        .arg(repository_root().join("infra/router.py"))
        .arg("--list")
        .current_dir(repository_root())
        .output()
        .unwrap_or_else(|e| panic!("run {python:?} infra/router.py --list ({e}); `make test`"));
    assert!(
        output.status.success(),
        "router.py --list failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let listing = String::from_utf8(output.stdout).expect("a UTF-8 listing");
    listing
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let mut columns = line.split('\t');
            let method = columns.next().unwrap_or_default().to_uppercase();
            let path = columns
                .next()
                .expect("method TAB path TAB binary")
                .to_owned();
            (method, path)
        })
        .collect()
}

/// One line per route that some source has and another lacks.
fn disagreements(sources: &[(&str, &BTreeSet<Route>)]) -> Vec<String> {
    let every: BTreeSet<&Route> = sources
        .iter()
        .flat_map(|(_, routes)| routes.iter())
        .collect();
    let mut lines = Vec::new();
    for route in every {
        let (has, lacks): (Vec<_>, Vec<_>) = sources
            .iter()
            .partition(|(_, routes)| routes.contains(route));
        if lacks.is_empty() {
            continue;
        }
        let names = |list: &[&(&str, &BTreeSet<Route>)]| {
            list.iter()
                .map(|(name, _)| *name)
                .collect::<Vec<_>>()
                .join(", ")
        };
        lines.push(format!(
            "{} {} is in {} but missing from {}",
            route.0,
            route.1,
            names(&has),
            names(&lacks)
        ));
    }
    lines
}

#[test]
fn every_route_is_in_the_template_the_local_router_and_the_spec() {
    let template = template_routes();
    let router = router_routes();
    let spec = Spec::repository().routes();
    assert!(
        !template.is_empty(),
        "no HttpApi route found in template.yaml"
    );
    let missing = disagreements(&[
        ("template.yaml", &template),
        ("the local router (infra/router.py --list)", &router),
        ("openapi.yaml", &spec),
    ]);
    assert!(
        missing.is_empty(),
        "routes disagree:\n{}",
        missing.join("\n")
    );
}

/// What every answer carries, so that a route added to the spec cannot leave it out.
#[test]
fn every_documented_answer_has_a_request_id_and_every_route_a_500() {
    let spec = Spec::repository();
    let responses = spec.responses();
    let mut gaps = Vec::new();
    for ((method, path), status, response) in &responses {
        if response["headers"]["x-request-id"].is_null() {
            gaps.push(format!(
                "{method} {path} {status} lacks the x-request-id header"
            ));
        }
    }
    for route in spec.routes() {
        if !responses
            .iter()
            .any(|(r, status, _)| *r == route && status == "500")
        {
            gaps.push(format!("{} {} does not document 500", route.0, route.1));
        }
    }
    assert!(gaps.is_empty(), "{}", gaps.join("\n"));
}

#[test]
fn the_spec_lists_exactly_the_field_codes_the_code_can_send() {
    let spec = std::fs::read_to_string(repository_root().join("openapi.yaml")).expect("spec");
    let spec: Yaml = serde_norway::from_str(&spec).expect("yaml");
    let listed: BTreeSet<&str> = spec["components"]["schemas"]["FieldError"]["properties"]["code"]
        ["enum"]
        .as_sequence()
        .expect("the FieldError code enum")
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    let sent: BTreeSet<&str> = FIELD_CODES.iter().copied().collect();
    let undocumented: Vec<_> = sent.difference(&listed).collect();
    let unused: Vec<_> = listed.difference(&sent).collect();
    assert!(
        undocumented.is_empty() && unused.is_empty(),
        "field codes sent but not in openapi.yaml: {undocumented:?}; \
         in openapi.yaml but never sent: {unused:?}"
    );
}

/// The `event_type` values `GET /admin/audit` takes and lists are the code's audit events.
#[test]
fn the_spec_lists_exactly_the_audit_event_types_of_the_code() {
    let spec = std::fs::read_to_string(repository_root().join("openapi.yaml")).expect("spec");
    let spec: Yaml = serde_norway::from_str(&spec).expect("yaml");
    let listed: Vec<&str> = spec["components"]["schemas"]["AuditEventType"]["enum"]
        .as_sequence()
        .expect("the AuditEventType enum")
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    let code: Vec<&str> = AuditEvent::all().map(|e| e.as_str()).collect();
    assert_eq!(
        listed, code,
        "openapi.yaml's AuditEventType against AuditEvent::all()"
    );
}

#[test]
fn a_route_missing_from_one_source_is_named_with_where_it_is_missing() {
    let route = |m: &str, p: &str| (m.to_owned(), p.to_owned());
    let both: BTreeSet<Route> = [route("GET", "/a"), route("POST", "/b")].into();
    let one: BTreeSet<Route> = [route("GET", "/a")].into();
    let lines = disagreements(&[("x", &both), ("y", &one), ("z", &both)]);
    assert_eq!(
        lines,
        vec!["POST /b is in x, z but missing from y".to_owned()]
    );
}
