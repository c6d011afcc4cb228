//! Request fields parsed into the ledger's domain types, one field error per bad field.

use capecontrol_shared::fields::Fields;
use capecontrol_shared::money::{Currency, Money};
use capecontrol_shared::store::earnings::MarketplaceId;
use capecontrol_shared::store::users::UserId;

const ID_MESSAGE: &str = "1 to 100 of A-Z, a-z, 0-9, '.', '_' and '-'; not a route name.";

/// A required marketplace id (agent, sale, payout).
pub(crate) fn id(fields: &mut Fields, field: &str) -> Option<MarketplaceId> {
    let text = fields.required_string(field)?;
    checked(
        fields,
        field,
        MarketplaceId::parse(&text),
        "invalid_id",
        ID_MESSAGE,
    )
}

/// A required user id.
pub(crate) fn user(fields: &mut Fields, field: &str) -> Option<UserId> {
    let text = fields.required_string(field)?;
    user_text(fields, field, &text)
}

pub(crate) fn user_text(fields: &mut Fields, field: &str, text: &str) -> Option<UserId> {
    let message = "A user id (a lowercase UUID).";
    checked(fields, field, UserId::parse(text), "invalid_id", message)
}

/// A required positive amount, sent as a string: a JSON number is refused, because most
/// clients parse it as a float.
pub(crate) fn amount(fields: &mut Fields, field: &str) -> Option<Money> {
    let text = fields.required_string(field)?;
    match Money::parse_positive(&text) {
        Ok(money) => Some(money),
        Err(reason) => {
            fields.reject(field, reason.code(), reason.message());
            None
        }
    }
}

pub(crate) fn currency(fields: &mut Fields, field: &str, text: &str) -> Option<Currency> {
    let message = "An ISO 4217 code with two minor digits, such as \"USD\".";
    checked(
        fields,
        field,
        Currency::parse(text),
        "invalid_currency",
        message,
    )
}

fn checked<T>(
    fields: &mut Fields,
    field: &str,
    parsed: Option<T>,
    code: &'static str,
    message: &'static str,
) -> Option<T> {
    if parsed.is_none() {
        fields.reject(field, code, message);
    }
    parsed
}
