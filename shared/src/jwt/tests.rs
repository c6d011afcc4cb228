use super::*;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

const KEY_TEXT: &str = "k3y-material-0123456789abcdefghijklmnopqrstuvwxyz";

fn key() -> SigningKey {
    SigningKey::new("v1", KEY_TEXT.as_bytes().to_vec()).expect("key")
}

fn policy() -> TokenPolicy {
    TokenPolicy {
        issuer: "capecontrol-auth".into(),
        audience: "capecontrol-api".into(),
        lifetime: Duration::minutes(15),
    }
}

fn subject() -> Subject {
    Subject {
        user: UserId::generate(),
        role: Role::Developer,
        session: "fam-1".into(),
        token_version: 3,
        email_verified: false,
    }
}

fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

fn valid_claims() -> Value {
    json!({
        "iss": "capecontrol-auth", "aud": "capecontrol-api",
        "sub": UserId::generate(), "role": "customer", "sid": "fam-1",
        "iat": now(), "nbf": now(), "exp": now() + 600,
        "jti": "j1", "tv": 0, "email_verified": true,
    })
}

fn forge(
    alg: Algorithm,
    typ: Option<&str>,
    kid: Option<&str>,
    claims: &Value,
    secret: &[u8],
) -> String {
    let header = Header {
        typ: typ.map(str::to_owned),
        kid: kid.map(str::to_owned),
        ..Header::new(alg)
    };
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).expect("encode")
}

fn forge_valid_with(claims: &Value) -> String {
    forge(
        Algorithm::HS256,
        Some("at+jwt"),
        Some("v1"),
        claims,
        KEY_TEXT.as_bytes(),
    )
}

fn rejected(token: &str) -> bool {
    policy().verify_with(token, &key()) == Err(Rejection::Invalid)
}

#[test]
fn an_issued_token_verifies_and_carries_every_claim() {
    let issued_at = OffsetDateTime::now_utc();
    let subject = subject();
    let (token, claims) = policy().issue(&subject, &key(), issued_at).expect("issue");
    let verified = policy().verify_with(&token, &key()).expect("valid");
    assert_eq!(verified, claims);
    assert_eq!(verified.sub, subject.user);
    assert_eq!(verified.tv, 3);
    assert_eq!(verified.exp - verified.iat, 900);
    let header = jsonwebtoken::decode_header(&token).expect("header");
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(header.kid.as_deref(), Some("v1"));
}

#[test]
fn a_forged_valid_token_is_accepted_so_the_rejections_below_mean_something() {
    assert!(policy()
        .verify_with(&forge_valid_with(&valid_claims()), &key())
        .is_ok());
}

#[test]
fn alg_none_is_rejected() {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"at+jwt","kid":"v1"}"#);
    let body = URL_SAFE_NO_PAD.encode(valid_claims().to_string());
    assert!(rejected(&format!("{header}.{body}.")));
}

#[test]
fn hs384_with_the_same_key_is_rejected() {
    let token = forge(
        Algorithm::HS384,
        Some("at+jwt"),
        Some("v1"),
        &valid_claims(),
        KEY_TEXT.as_bytes(),
    );
    assert!(rejected(&token));
}

#[test]
fn wrong_issuer_audience_or_type_is_rejected() {
    let mut claims = valid_claims();
    claims["iss"] = json!("someone-else");
    assert!(rejected(&forge_valid_with(&claims)));
    let mut claims = valid_claims();
    claims["aud"] = json!("other-api");
    assert!(rejected(&forge_valid_with(&claims)));
    for typ in [Some("JWT"), None] {
        let token = forge(
            Algorithm::HS256,
            typ,
            Some("v1"),
            &valid_claims(),
            KEY_TEXT.as_bytes(),
        );
        assert!(rejected(&token), "typ {typ:?} accepted");
    }
}

#[test]
fn missing_or_string_exp_is_rejected() {
    let mut claims = valid_claims();
    claims.as_object_mut().expect("object").remove("exp");
    assert!(rejected(&forge_valid_with(&claims)));
    let mut claims = valid_claims();
    claims["exp"] = json!((now() + 600).to_string());
    assert!(rejected(&forge_valid_with(&claims)));
}

#[test]
fn expiry_allows_five_seconds_of_leeway_and_no_more() {
    let mut claims = valid_claims();
    claims["exp"] = json!(now() - 2);
    assert!(!rejected(&forge_valid_with(&claims)), "within leeway");
    claims["exp"] = json!(now() - 30);
    assert!(rejected(&forge_valid_with(&claims)), "past leeway");
}

#[test]
fn a_token_not_yet_valid_is_rejected() {
    let mut claims = valid_claims();
    claims["nbf"] = json!(now() + 120);
    assert!(rejected(&forge_valid_with(&claims)));
}

#[test]
fn wrongly_typed_claims_are_rejected() {
    for (claim, value) in [
        ("tv", json!("0")),
        ("role", json!("root")),
        ("sub", json!(42)),
    ] {
        let mut claims = valid_claims();
        claims[claim] = value;
        assert!(rejected(&forge_valid_with(&claims)), "{claim} accepted");
    }
}

#[test]
fn a_tampered_signature_or_payload_is_rejected() {
    let token = forge_valid_with(&valid_claims());
    let (rest, signature) = token.rsplit_once('.').expect("three parts");
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    assert!(rejected(&format!("{rest}.{flipped}{}", &signature[1..])));
    let mut claims = valid_claims();
    claims["role"] = json!("admin");
    let (_, forged_body, _) = split(&forge_valid_with(&claims));
    let (head, _, sig) = split(&token);
    assert!(rejected(&format!("{head}.{forged_body}.{sig}")));
}

fn split(token: &str) -> (String, String, String) {
    let parts: Vec<&str> = token.split('.').collect();
    (
        parts[0].to_owned(),
        parts[1].to_owned(),
        parts[2].to_owned(),
    )
}

#[test]
fn an_unknown_kid_or_another_key_is_rejected() {
    let token = forge(
        Algorithm::HS256,
        Some("at+jwt"),
        Some("v9"),
        &valid_claims(),
        KEY_TEXT.as_bytes(),
    );
    assert!(rejected(&token));
    let token = forge(
        Algorithm::HS256,
        Some("at+jwt"),
        None,
        &valid_claims(),
        KEY_TEXT.as_bytes(),
    );
    assert!(rejected(&token));
    let other = b"another-key-material-0123456789abcdefghijklmnop";
    assert!(rejected(&forge(
        Algorithm::HS256,
        Some("at+jwt"),
        Some("v1"),
        &valid_claims(),
        other
    )));
}

#[test]
fn a_refresh_token_is_never_accepted_as_an_access_token() {
    let refresh = crate::opaque_token::OpaqueToken::generate().expect("random");
    assert!(rejected(refresh.expose()));
    assert_eq!(
        policy().checked_kid(refresh.expose()),
        Err(Rejection::Invalid)
    );
}

#[test]
fn a_token_issued_in_the_future_or_living_too_long_is_rejected() {
    let mut claims = valid_claims();
    claims["iat"] = json!(now() + 3_600);
    claims["nbf"] = json!(now());
    assert!(rejected(&forge_valid_with(&claims)));
    let mut claims = valid_claims();
    claims["exp"] = json!(now() + 86_400);
    assert!(rejected(&forge_valid_with(&claims)));
}

#[test]
fn a_crit_header_is_rejected() {
    let header =
        URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"at+jwt","kid":"v1","crit":["exp"]}"#);
    let body = URL_SAFE_NO_PAD.encode(valid_claims().to_string());
    let signing_input = format!("{header}.{body}");
    let signature = jsonwebtoken::crypto::sign(
        signing_input.as_bytes(),
        &EncodingKey::from_secret(KEY_TEXT.as_bytes()),
        Algorithm::HS256,
    )
    .expect("sign");
    assert!(rejected(&format!("{signing_input}.{signature}")));
}
