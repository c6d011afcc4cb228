//! The profile fields of the schema's users table that their owner fills in (registration and
//! `PATCH /users/me`): one set of rules, one error code per kind of bad value.

use crate::fields::Fields;
use crate::store::users::Experience;

pub const MAX_NAME_CHARS: usize = 100;
const MAX_LONG_TEXT_CHARS: usize = 255;
const MAX_PHONE_CHARS: usize = 20;

/// The free-text profile fields, in the order errors are reported.
pub const TEXT_FIELDS: [&str; 5] = ["first_name", "last_name", "phone", "website", "company"];

/// The field `field` if present: trimmed, checked by its rules; a bad value is recorded in
/// `fields` and gives None.
pub fn optional(fields: &mut Fields, field: &str) -> Option<String> {
    let value = fields.optional_string(field)?;
    checked(fields, field, value)
}

/// `value` (trimmed, not blank) checked as the text field `field`, one of [`TEXT_FIELDS`].
pub fn checked(fields: &mut Fields, field: &str, value: String) -> Option<String> {
    let max = match field {
        "first_name" | "last_name" => MAX_NAME_CHARS,
        "phone" => MAX_PHONE_CHARS,
        _ => MAX_LONG_TEXT_CHARS,
    };
    let refusal = text_refusal(&value, max).or(match field {
        "phone" => phone_refusal(&value),
        "website" => website_refusal(&value),
        _ => None,
    });
    match refusal {
        Some((code, message)) => {
            fields.reject(field, code, message);
            None
        }
        None => Some(value),
    }
}

/// `value` as an experience level; a bad one is recorded in `fields`.
pub fn experience(fields: &mut Fields, value: &str) -> Option<Experience> {
    let parsed = Experience::parse(value);
    if parsed.is_none() {
        fields.reject(
            "experience",
            "invalid_choice",
            "Choose beginner, intermediate, advanced or expert.",
        );
    }
    parsed
}

type Refusal = Option<(&'static str, &'static str)>;

/// Free text: at most `max` characters, no control or invisible characters.
fn text_refusal(value: &str, max: usize) -> Refusal {
    if value.chars().count() > max {
        return Some(("too_long", "This field is too long."));
    }
    value
        .chars()
        .any(crate::text::is_unprintable)
        .then_some(("invalid_characters", "This field holds control characters."))
}

/// Digits with the usual separators and an optional leading `+`; 7 to 15 digits (E.164).
fn phone_refusal(value: &str) -> Refusal {
    let digits = value.chars().filter(char::is_ascii_digit).count();
    let body = value.strip_prefix('+').unwrap_or(value);
    let allowed = body
        .chars()
        .all(|c| c.is_ascii_digit() || " -().".contains(c));
    (!(allowed && (7..=15).contains(&digits)))
        .then_some(("invalid_phone", "Give a phone number of 7 to 15 digits."))
}

fn website_refusal(value: &str) -> Refusal {
    let valid = url::Url::parse(value).is_ok_and(|url| {
        matches!(url.scheme(), "http" | "https")
            && url.host_str().is_some_and(|h| h.contains('.'))
            && url.username().is_empty()
            && url.password().is_none()
    });
    (!valid).then_some(("invalid_url", "Give an http or https address."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn codes(body: Value) -> Vec<(String, &'static str)> {
        let Value::Object(map) = body else {
            panic!("object")
        };
        let mut fields = Fields::new(map);
        for field in TEXT_FIELDS {
            optional(&mut fields, field);
        }
        fields.finish().map_or_else(
            |e| e.fields.into_iter().map(|f| (f.field, f.code)).collect(),
            |()| Vec::new(),
        )
    }

    #[test]
    fn each_rule_has_its_code() {
        let errors = codes(json!({
            "first_name": "x".repeat(101), "last_name": "A\u{200b}b", "phone": "call me",
            "website": "https://u:p@evil.example.com/", "company": "ok"
        }));
        let expected = [
            ("first_name", "too_long"),
            ("last_name", "invalid_characters"),
            ("phone", "invalid_phone"),
            ("website", "invalid_url"),
        ];
        let expected: Vec<(String, &str)> = expected
            .iter()
            .map(|(f, c)| ((*f).to_owned(), *c))
            .collect();
        assert_eq!(errors, expected);
    }

    #[test]
    fn good_values_pass() {
        let errors = codes(json!({
            "first_name": "Ann", "phone": "+27 21 555 0100", "website": "https://a.example.com"
        }));
        assert!(errors.is_empty(), "{errors:?}");
    }
}
