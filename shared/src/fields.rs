//! Taking typed fields out of a JSON object one by one, collecting one error per bad field and
//! refusing fields the endpoint does not know.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::http::ApiError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub code: &'static str,
    pub message: &'static str,
}

impl FieldError {
    pub fn new(field: &str, code: &'static str, message: &'static str) -> Self {
        Self {
            field: field.to_owned(),
            code,
            message,
        }
    }
}

pub const MAX_REPORTED: usize = 25;

/// Every field code a 422 can carry, as `openapi.yaml` lists them (a test compares the two).
pub const FIELD_CODES: &[&str] = &[
    "required",
    "invalid_type",
    "unknown_field",
    "not_an_object",
    "invalid_email",
    "password_too_short",
    "password_too_long",
    "password_too_weak",
    "too_long",
    "invalid_characters",
    "invalid_phone",
    "invalid_url",
    "invalid_choice",
    "role_not_allowed",
    "must_accept",
    "not_writable",
    "invalid_amount",
    "not_positive",
    "too_precise",
    "out_of_range",
    "total_out_of_range",
    "invalid_currency",
    "currency_mismatch",
    "invalid_rate",
    "invalid_id",
    "invalid_limit",
    "not_a_developer",
    "nothing_to_change",
    "invalid_time",
    "invalid_range",
    "range_too_long",
];

#[derive(Debug)]
pub struct Fields {
    remaining: Map<String, Value>,
    errors: Vec<FieldError>,
}

impl Fields {
    pub fn new(object: Map<String, Value>) -> Self {
        Self {
            remaining: object,
            errors: Vec::new(),
        }
    }

    pub fn reject(&mut self, field: &str, code: &'static str, message: &'static str) {
        self.errors.push(FieldError::new(field, code, message));
    }

    /// A string that must be present.
    pub fn required_string(&mut self, field: &str) -> Option<String> {
        match self.remaining.remove(field) {
            Some(Value::String(text)) => Some(text),
            None | Some(Value::Null) => {
                self.reject(field, "required", "This field is required.");
                None
            }
            Some(_) => {
                self.reject(field, "invalid_type", "This field must be a string.");
                None
            }
        }
    }

    /// A string that may be absent or null; an empty or blank string counts as absent.
    pub fn optional_string(&mut self, field: &str) -> Option<String> {
        match self.remaining.remove(field) {
            Some(Value::String(text)) if !text.trim().is_empty() => Some(text.trim().to_owned()),
            None | Some(Value::Null) | Some(Value::String(_)) => None,
            Some(_) => {
                self.reject(field, "invalid_type", "This field must be a string.");
                None
            }
        }
    }

    pub fn required_bool(&mut self, field: &str) -> Option<bool> {
        match self.remaining.remove(field) {
            Some(Value::Bool(flag)) => Some(flag),
            None | Some(Value::Null) => {
                self.reject(field, "required", "This field is required.");
                None
            }
            Some(_) => {
                self.reject(field, "invalid_type", "This field must be true or false.");
                None
            }
        }
    }

    /// A boolean that may be absent or null.
    pub fn optional_bool(&mut self, field: &str) -> Option<bool> {
        match self.remaining.remove(field) {
            Some(Value::Bool(flag)) => Some(flag),
            None | Some(Value::Null) => None,
            Some(_) => {
                self.reject(field, "invalid_type", "This field must be true or false.");
                None
            }
        }
    }

    /// Ends parsing: every field not taken is unknown, and any error makes the whole body a 422.
    /// At most [`MAX_REPORTED`] entries are listed, so a body of junk fields cannot make the
    /// answer many times larger than the request.
    pub fn finish(mut self) -> Result<(), ApiError> {
        let mut unknown: Vec<String> = self.remaining.keys().cloned().collect();
        unknown.sort();
        for field in unknown {
            self.reject(
                &field,
                "unknown_field",
                "This endpoint does not take this field.",
            );
        }
        self.errors.truncate(MAX_REPORTED);
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(self.errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(value: Value) -> Fields {
        let Value::Object(map) = value else {
            panic!("object")
        };
        Fields::new(map)
    }

    fn codes(result: Result<(), ApiError>) -> Vec<(String, &'static str)> {
        result
            .expect_err("errors")
            .fields
            .into_iter()
            .map(|e| (e.field, e.code))
            .collect()
    }

    #[test]
    fn every_bad_field_is_reported_once_and_unknown_fields_too() {
        let mut input = fields(json!({"a": 1, "c": "x", "zz": true, "b": null}));
        assert_eq!(input.required_string("a"), None);
        assert_eq!(input.required_string("b"), None);
        assert_eq!(input.required_bool("c"), None);
        assert_eq!(
            codes(input.finish()),
            vec![
                ("a".to_owned(), "invalid_type"),
                ("b".to_owned(), "required"),
                ("c".to_owned(), "invalid_type"),
                ("zz".to_owned(), "unknown_field"),
            ]
        );
    }

    #[test]
    fn at_most_twenty_five_errors_are_reported() {
        let junk: serde_json::Map<String, Value> =
            (0..500).map(|i| (format!("f{i:03}"), json!(1))).collect();
        let errors = Fields::new(junk)
            .finish()
            .expect_err("unknown fields")
            .fields;
        assert_eq!(errors.len(), MAX_REPORTED);
    }

    #[test]
    fn optional_strings_are_trimmed_and_blank_means_absent() {
        let mut input = fields(json!({"a": "  x ", "b": "   ", "c": null}));
        assert_eq!(input.optional_string("a").as_deref(), Some("x"));
        assert_eq!(input.optional_string("b"), None);
        assert_eq!(input.optional_string("c"), None);
        assert_eq!(input.optional_string("d"), None);
        assert!(input.finish().is_ok());
    }

    #[test]
    fn a_wrongly_typed_optional_field_is_an_error() {
        let mut input = fields(json!({"a": 5}));
        assert_eq!(input.optional_string("a"), None);
        assert_eq!(
            codes(input.finish()),
            vec![("a".to_owned(), "invalid_type")]
        );
    }
}
