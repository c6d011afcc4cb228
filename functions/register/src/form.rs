//! The registration body, parsed field by field into domain types; every bad field is reported.

use capecontrol_shared::email::Email;
use capecontrol_shared::fields::Fields;
use capecontrol_shared::http::ApiError;
use capecontrol_shared::password::Password;
use capecontrol_shared::profile_fields;
use capecontrol_shared::store::users::{Experience, Role};
use serde_json::{Map, Value};

#[derive(Debug)]
pub struct Registration {
    pub email: Email,
    pub password: Password,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    pub website: Option<String>,
    pub company: Option<String>,
    pub role: Role,
    pub experience: Option<Experience>,
}

impl Registration {
    pub fn parse(object: Map<String, Value>) -> Result<Self, ApiError> {
        let mut fields = Fields::new(object);
        let email = parse_email(&mut fields);
        let first_name = profile_fields::optional(&mut fields, "first_name");
        let last_name = profile_fields::optional(&mut fields, "last_name");
        let password = parse_password(&mut fields, &email, [&first_name, &last_name]);
        let phone = profile_fields::optional(&mut fields, "phone");
        let website = profile_fields::optional(&mut fields, "website");
        let company = profile_fields::optional(&mut fields, "company");
        let role = parse_role(&mut fields);
        let experience = parse_experience(&mut fields);
        accepted(&mut fields, "accept_terms");
        accepted(&mut fields, "accept_privacy");
        fields.finish()?;
        match (email, password, role) {
            (Some(email), Some(password), Some(role)) => Ok(Self {
                email,
                password,
                first_name,
                last_name,
                phone,
                website,
                company,
                role,
                experience,
            }),
            // A field that failed to parse recorded an error, so finish() returned it above.
            _ => Err(ApiError::internal()),
        }
    }
}

fn parse_email(fields: &mut Fields) -> Option<Email> {
    let raw = fields.required_string("email")?;
    let parsed = Email::parse(&raw).ok();
    if parsed.is_none() {
        fields.reject(
            "email",
            "invalid_email",
            "This is not a valid email address.",
        );
    }
    parsed
}

fn parse_password(
    fields: &mut Fields,
    email: &Option<Email>,
    names: [&Option<String>; 2],
) -> Option<Password> {
    let raw = fields.required_string("password")?;
    let mut context: Vec<&str> = names.iter().filter_map(|n| n.as_deref()).collect();
    if let Some(email) = email {
        context.extend([email.as_str(), email.local_part()]);
    }
    match Password::new_checked(&raw, &context) {
        Ok(password) => Some(password),
        Err(rejection) => {
            fields.reject("password", rejection.code(), rejection.message());
            None
        }
    }
}

fn parse_role(fields: &mut Fields) -> Option<Role> {
    let Some(value) = fields.optional_string("role") else {
        return Some(Role::Customer);
    };
    match value.as_str() {
        "customer" => Some(Role::Customer),
        "developer" => Some(Role::Developer),
        "admin" => {
            fields.reject(
                "role",
                "role_not_allowed",
                "The admin role cannot be chosen.",
            );
            None
        }
        _ => {
            fields.reject("role", "invalid_choice", "Choose customer or developer.");
            None
        }
    }
}

fn parse_experience(fields: &mut Fields) -> Option<Experience> {
    let value = fields.optional_string("experience")?;
    profile_fields::experience(fields, &value)
}

fn accepted(fields: &mut Fields, field: &str) {
    if fields.required_bool(field) == Some(false) {
        fields.reject(field, "must_accept", "This must be accepted to register.");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(body: Value) -> Result<Registration, Vec<(String, &'static str)>> {
        let Value::Object(map) = body else {
            panic!("object")
        };
        Registration::parse(map)
            .map_err(|e| e.fields.into_iter().map(|f| (f.field, f.code)).collect())
    }

    fn valid() -> Value {
        json!({
            "email": "Dev@Example.com", "password": "correct horse battery staple 42",
            "first_name": "Ann", "last_name": "Lee", "phone": "+27 21 555 0100",
            "website": "https://ann.example.com", "company": "Lee AI", "role": "developer",
            "experience": "expert", "accept_terms": true, "accept_privacy": true
        })
    }

    #[test]
    fn a_complete_body_parses_into_domain_types() {
        let form = parse(valid()).expect("valid");
        assert_eq!(form.email.as_str(), "dev@example.com");
        assert_eq!(form.role, Role::Developer);
        assert_eq!(form.experience, Some(Experience::Expert));
        assert_eq!(form.phone.as_deref(), Some("+27 21 555 0100"));
    }

    #[test]
    fn only_email_password_and_acceptances_are_required_and_role_defaults_to_customer() {
        let form = parse(json!({
            "email": "a@example.com", "password": "correct horse battery staple 42",
            "accept_terms": true, "accept_privacy": true
        }))
        .expect("valid");
        assert_eq!(form.role, Role::Customer);
        assert_eq!(form.first_name, None);
    }

    #[test]
    fn each_bad_field_gets_its_own_entry() {
        let errors = parse(json!({
            "email": "nope", "password": "short", "first_name": 7, "phone": "call me",
            "website": "ftp://x.example", "role": "admin", "experience": "guru",
            "accept_terms": false, "surprise": 1
        }))
        .expect_err("invalid");
        let expected = [
            ("email", "invalid_email"),
            ("first_name", "invalid_type"),
            ("password", "password_too_short"),
            ("phone", "invalid_phone"),
            ("website", "invalid_url"),
            ("role", "role_not_allowed"),
            ("experience", "invalid_choice"),
            ("accept_terms", "must_accept"),
            ("accept_privacy", "required"),
            ("surprise", "unknown_field"),
        ];
        let expected: Vec<(String, &str)> = expected
            .iter()
            .map(|(f, c)| ((*f).to_owned(), *c))
            .collect();
        assert_eq!(errors, expected);
    }

    #[test]
    fn a_password_made_of_the_users_own_details_is_too_weak() {
        let mut body = valid();
        body["first_name"] = json!("Quintessa");
        body["last_name"] = json!("Marlowe");
        body["email"] = json!("quintessa.marlowe@example.com");
        body["password"] = json!("QuintessaMarlowe");
        assert_eq!(
            parse(body).expect_err("weak"),
            vec![("password".into(), "password_too_weak")]
        );
    }

    #[test]
    fn invisible_characters_and_credentials_in_urls_are_refused() {
        let mut body = valid();
        body["first_name"] = json!("An\u{200b}n");
        body["website"] = json!("https://user:pass@evil.example.com/");
        let errors = parse(body).expect_err("refused");
        assert_eq!(
            errors,
            vec![
                ("first_name".into(), "invalid_characters"),
                ("website".into(), "invalid_url")
            ]
        );
    }

    #[test]
    fn over_long_text_fields_are_refused() {
        let mut body = valid();
        body["first_name"] = json!("x".repeat(101));
        body["company"] = json!("y".repeat(256));
        let errors = parse(body).expect_err("too long");
        assert_eq!(
            errors,
            vec![
                ("first_name".into(), "too_long"),
                ("company".into(), "too_long")
            ]
        );
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use capecontrol_shared::arbitrary::{check_refusal, config, object_with};
    use proptest::prelude::*;

    const FIELDS: &[&str] = &[
        "email",
        "password",
        "first_name",
        "last_name",
        "phone",
        "website",
        "company",
        "role",
        "experience",
        "accept_terms",
        "accept_privacy",
    ];

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn any_registration_body_parses_or_names_each_bad_field(body in object_with(FIELDS)) {
            match Registration::parse(body) {
                Ok(form) => {
                    prop_assert_ne!(form.role, Role::Admin);
                    prop_assert_eq!(Email::parse(form.email.as_str()).ok(), Some(form.email));
                    for name in [&form.first_name, &form.last_name].into_iter().flatten() {
                        prop_assert!(name.chars().count() <= profile_fields::MAX_NAME_CHARS);
                    }
                }
                Err(error) => {
                    prop_assert_eq!(error.status.as_u16(), 422);
                    check_refusal(&error)?;
                }
            }
        }
    }
}
