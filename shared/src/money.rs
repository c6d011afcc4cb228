//! Money as the earnings ledger keeps it: exact decimals, never floats. Amounts have two minor
//! digits and fit the schema's DECIMAL(10,2); a commission rate is the platform's share of a
//! sale, 0 to 1 with four decimal places, DECIMAL(5,4).
//!
//! Splitting a sale: the platform's commission is `amount × rate` rounded to the cent with
//! round-half-to-even (banker's rounding: a half cent goes to the even cent, so over many sales
//! neither side is favoured), and the developer's share is the remainder. The two parts always
//! add up to the amount exactly.

use rust_decimal::{Decimal, RoundingStrategy};
use std::fmt;
use std::str::FromStr;

/// Digits after the point of every amount (ISO 4217 minor unit of the accepted currencies).
pub const MINOR_DIGITS: u32 = 2;
/// Digits after the point of a commission rate.
pub const RATE_DIGITS: u32 = 4;
/// Integer digits of DECIMAL(10,2).
const MAX_INTEGER_DIGITS: usize = 8;
/// Longest text considered at all; anything longer is out of range or malformed.
const MAX_TEXT_CHARS: usize = 32;

/// Why a text is not an acceptable amount; each is a stable field code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmountRejection {
    Malformed,
    NotPositive,
    TooPrecise,
    OutOfRange,
}

impl AmountRejection {
    pub fn code(self) -> &'static str {
        match self {
            Self::Malformed => "invalid_amount",
            Self::NotPositive => "not_positive",
            Self::TooPrecise => "too_precise",
            Self::OutOfRange => "out_of_range",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Self::Malformed => "Send the amount as a decimal string such as \"6.45\".",
            Self::NotPositive => "The amount must be greater than zero.",
            Self::TooPrecise => "The amount has more than two decimal places.",
            Self::OutOfRange => "The amount exceeds 99999999.99.",
        }
    }
}

/// A non-negative amount with exactly two decimal places, at most 99,999,999.99.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(Decimal);

impl Money {
    pub fn zero() -> Self {
        Self(Decimal::new(0, MINOR_DIGITS))
    }

    /// 99,999,999.99, the largest DECIMAL(10,2).
    pub fn max() -> Self {
        Self(Decimal::new(9_999_999_999, MINOR_DIGITS))
    }

    /// A positive amount as a client sends it: digits, optionally a point and one or two
    /// digits. No sign, exponent, spaces or thousands separators.
    pub fn parse_positive(text: &str) -> Result<Self, AmountRejection> {
        let (negative, value) = parse_plain_decimal(text, MINOR_DIGITS, MAX_INTEGER_DIGITS)?;
        if negative || value.is_zero() {
            return Err(AmountRejection::NotPositive);
        }
        Self::new(value).ok_or(AmountRejection::OutOfRange)
    }

    /// Any value in range, at two decimal places; `None` when it is negative, above the
    /// maximum or not representable in cents.
    pub fn new(value: Decimal) -> Option<Self> {
        let mut value = value.normalize();
        if value.is_sign_negative() || value > Self::max().0 || value.scale() > MINOR_DIGITS {
            return None;
        }
        value.rescale(MINOR_DIGITS);
        Some(Self(value))
    }

    pub fn checked_add(self, other: Self) -> Option<Self> {
        self.0.checked_add(other.0).and_then(Self::new)
    }

    /// `None` when the result would be negative.
    pub fn checked_sub(self, other: Self) -> Option<Self> {
        self.0.checked_sub(other.0).and_then(Self::new)
    }

    pub fn as_decimal(self) -> Decimal {
        self.0
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The platform's share of each sale: 0 to 1, at most four decimal places.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CommissionRate(Decimal);

impl CommissionRate {
    /// 0.3000, the schema's default.
    pub fn standard() -> Self {
        Self(Decimal::new(3_000, RATE_DIGITS))
    }

    pub fn parse(text: &str) -> Result<Self, AmountRejection> {
        let (negative, value) = parse_plain_decimal(text, RATE_DIGITS, 1)?;
        if negative {
            return Err(AmountRejection::OutOfRange);
        }
        Self::new(value).ok_or(AmountRejection::OutOfRange)
    }

    pub fn new(value: Decimal) -> Option<Self> {
        let mut value = value.normalize();
        let in_range = !value.is_sign_negative() && value <= Decimal::ONE;
        if !in_range || value.scale() > RATE_DIGITS {
            return None;
        }
        value.rescale(RATE_DIGITS);
        Some(Self(value))
    }

    pub fn as_decimal(self) -> Decimal {
        self.0
    }
}

impl fmt::Display for CommissionRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A sale divided between the platform and the developer; the parts add up to the sale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    pub commission: Money,
    pub developer_share: Money,
}

/// Commission rounded half-to-even to the cent, the developer's share the exact remainder.
pub fn split(amount: Money, rate: CommissionRate) -> Split {
    let exact = amount.0 * rate.0;
    let rounded = exact.round_dp_with_strategy(MINOR_DIGITS, RoundingStrategy::MidpointNearestEven);
    // rate <= 1, so the commission never exceeds the amount and both parts are in range.
    let commission = Money::new(rounded).unwrap_or(amount);
    let developer_share = amount.checked_sub(commission).unwrap_or_else(Money::zero);
    Split {
        commission,
        developer_share,
    }
}

/// Digits with an optional leading `-` and an optional fraction of at most `max_fraction`
/// digits; the integer part (without leading zeros) has at most `max_integer` digits.
fn parse_plain_decimal(
    text: &str,
    max_fraction: u32,
    max_integer: usize,
) -> Result<(bool, Decimal), AmountRejection> {
    if text.len() > MAX_TEXT_CHARS {
        return Err(AmountRejection::OutOfRange);
    }
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (integer, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    let has_point = unsigned.contains('.');
    if integer.is_empty()
        || !digits(integer)
        || !digits(fraction)
        || has_point == fraction.is_empty()
    {
        return Err(AmountRejection::Malformed);
    }
    if fraction.len() > max_fraction as usize {
        return Err(AmountRejection::TooPrecise);
    }
    if integer.trim_start_matches('0').len() > max_integer {
        return Err(AmountRejection::OutOfRange);
    }
    let value = Decimal::from_str(unsigned).map_err(|_| AmountRejection::Malformed)?;
    Ok((negative, value))
}

/// ISO 4217 codes of currencies whose minor unit is two digits (the 2025 list, less fund
/// codes such as BOV or USN, which are not used for payments).
const TWO_DIGIT_CURRENCIES: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN",
    "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF", "CNY",
    "COP", "CRC", "CUP", "CVE", "CZK", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD",
    "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR",
    "ILS", "INR", "IRR", "JMD", "KES", "KGS", "KHR", "KPW", "KYD", "KZT", "LAK", "LBP", "LKR",
    "LRD", "LSL", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK",
    "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "PAB", "PEN", "PGK", "PHP",
    "PKR", "PLN", "QAR", "RON", "RSD", "RUB", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP",
    "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TOP", "TRY",
    "TTD", "TWD", "TZS", "UAH", "USD", "UYU", "UZS", "VES", "WST", "XCD", "XCG", "YER", "ZAR",
    "ZMW", "ZWG",
];

/// An ISO 4217 currency code with two minor digits, upper case as the standard writes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency(String);

impl Currency {
    pub fn parse(text: &str) -> Option<Self> {
        TWO_DIGIT_CURRENCIES
            .binary_search(&text)
            .ok()
            .map(|_| Self(text.to_owned()))
    }

    /// USD, the schema's default.
    pub fn standard() -> Self {
        Self("USD".to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(text: &str) -> Money {
        Money::parse_positive(text).expect("amount")
    }

    fn rate(text: &str) -> CommissionRate {
        CommissionRate::parse(text).expect("rate")
    }

    fn parts(amount: &str, at: &str) -> (String, String) {
        let split = split(money(amount), rate(at));
        assert_eq!(
            split.commission.checked_add(split.developer_share),
            Some(money(amount)),
            "the parts add up to the sale"
        );
        (
            split.commission.to_string(),
            split.developer_share.to_string(),
        )
    }

    #[test]
    fn the_pinned_rounding_cases_split_exactly() {
        assert_eq!(parts("6.45", "0.3"), ("1.94".into(), "4.51".into()));
        assert_eq!(parts("0.01", "0.3"), ("0.00".into(), "0.01".into()));
        assert_eq!(
            parts("99999999.99", "0.0001"),
            ("10000.00".into(), "99989999.99".into())
        );
        // Exact half cents: 0.125 rounds to the even 0.12, 0.135 to the even 0.14.
        assert_eq!(parts("0.25", "0.5"), ("0.12".into(), "0.13".into()));
        assert_eq!(parts("0.27", "0.5"), ("0.14".into(), "0.13".into()));
        assert_eq!(parts("1.25", "0.1"), ("0.12".into(), "1.13".into()));
        assert_eq!(parts("1.35", "0.1"), ("0.14".into(), "1.21".into()));
    }

    #[test]
    fn rates_of_zero_and_one_give_everything_to_one_side() {
        assert_eq!(parts("10.00", "0"), ("0.00".into(), "10.00".into()));
        assert_eq!(parts("10.00", "1"), ("10.00".into(), "0.00".into()));
    }

    #[test]
    fn amounts_are_shown_with_two_decimal_places() {
        assert_eq!(money("6").to_string(), "6.00");
        assert_eq!(money("6.5").to_string(), "6.50");
        assert_eq!(money("0006.45").to_string(), "6.45");
        assert_eq!(Money::max().to_string(), "99999999.99");
        assert_eq!(rate("0.3").to_string(), "0.3000");
        assert_eq!(CommissionRate::standard().to_string(), "0.3000");
    }

    #[test]
    fn bad_amounts_are_rejected_with_a_reason() {
        let cases = [
            ("", AmountRejection::Malformed),
            ("abc", AmountRejection::Malformed),
            ("1e3", AmountRejection::Malformed),
            (" 1.00", AmountRejection::Malformed),
            ("1,000.00", AmountRejection::Malformed),
            (".5", AmountRejection::Malformed),
            ("5.", AmountRejection::Malformed),
            ("+5", AmountRejection::Malformed),
            ("NaN", AmountRejection::Malformed),
            ("0", AmountRejection::NotPositive),
            ("0.00", AmountRejection::NotPositive),
            ("-1.00", AmountRejection::NotPositive),
            ("1.005", AmountRejection::TooPrecise),
            ("6.450", AmountRejection::TooPrecise),
            ("100000000.00", AmountRejection::OutOfRange),
            (
                "99999999999999999999999999999999999",
                AmountRejection::OutOfRange,
            ),
        ];
        for (text, reason) in cases {
            assert_eq!(Money::parse_positive(text), Err(reason), "{text:?}");
        }
        assert_eq!(money("99999999.99"), Money::max());
    }

    #[test]
    fn rates_must_lie_between_zero_and_one_with_four_places() {
        assert_eq!(rate("1.0000").to_string(), "1.0000");
        assert_eq!(rate("0").to_string(), "0.0000");
        for (text, reason) in [
            ("1.0001", AmountRejection::OutOfRange),
            ("2", AmountRejection::OutOfRange),
            ("-0.1", AmountRejection::OutOfRange),
            ("0.12345", AmountRejection::TooPrecise),
            ("30%", AmountRejection::Malformed),
        ] {
            assert_eq!(CommissionRate::parse(text), Err(reason), "{text:?}");
        }
    }

    #[test]
    fn sums_past_the_maximum_and_differences_below_zero_are_refused() {
        assert_eq!(Money::max().checked_add(money("0.01")), None);
        assert_eq!(money("1.00").checked_sub(money("1.01")), None);
        assert_eq!(
            money("1.00").checked_sub(money("1.00")),
            Some(Money::zero())
        );
    }

    #[test]
    fn stored_values_are_read_back_at_two_places() {
        let stored = Decimal::from_str("1.9").expect("decimal");
        assert_eq!(Money::new(stored).expect("money").to_string(), "1.90");
        assert_eq!(Money::new(Decimal::from_str("0.001").expect("d")), None);
        assert_eq!(Money::new(Decimal::from_str("-1").expect("d")), None);
    }

    #[test]
    fn only_two_digit_iso_codes_are_currencies() {
        assert!(
            TWO_DIGIT_CURRENCIES.windows(2).all(|w| w[0] < w[1]),
            "sorted"
        );
        for code in ["USD", "EUR", "GBP", "ZAR", "CHF"] {
            assert!(Currency::parse(code).is_some(), "{code}");
        }
        for code in ["JPY", "KWD", "BHD", "XAU", "XTS", "usd", "US", "USDX", ""] {
            assert!(Currency::parse(code).is_none(), "{code}");
        }
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::arbitrary::config;
    use proptest::prelude::*;

    /// Texts shaped like amounts (signs, points, many digits) and arbitrary text besides.
    fn candidate() -> impl Strategy<Value = String> {
        prop_oneof![
            "[-+]?[0-9]{0,12}(\\.[0-9]{0,5})?",
            "[0-9.eE+ ,-]{0,14}",
            ".{0,40}",
        ]
    }

    /// What the text should give, judged independently of the parser: digits, at most one
    /// point with digits after it, no sign.
    fn expected(text: &str) -> Result<Decimal, &'static str> {
        let (integer, fraction) = text.split_once('.').unwrap_or((text, ""));
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let positive_shape =
            digits(integer) && (fraction.is_empty() && !text.contains('.') || digits(fraction));
        if !positive_shape {
            // A negative or malformed text is refused either way; the code is checked below.
            return Err("refused");
        }
        if fraction.len() > 2 {
            return Err("too_precise");
        }
        let value = Decimal::from_str(text).map_err(|_| "out_of_range")?;
        if value.is_zero() {
            Err("not_positive")
        } else if value > Money::max().as_decimal() {
            Err("out_of_range")
        } else {
            Ok(value)
        }
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn an_amount_is_in_range_with_two_places_or_a_field_error(text in candidate()) {
            match Money::parse_positive(&text) {
                Ok(money) => {
                    let value = money.as_decimal();
                    prop_assert_eq!(value.scale(), MINOR_DIGITS);
                    prop_assert!(value > Decimal::ZERO && value <= Money::max().as_decimal());
                    prop_assert_eq!(expected(&text), Ok(value), "{:?}", text);
                    prop_assert_eq!(Money::parse_positive(&money.to_string()), Ok(money));
                }
                Err(reason) => {
                    let codes = ["invalid_amount", "not_positive", "too_precise", "out_of_range"];
                    prop_assert!(codes.contains(&reason.code()));
                    prop_assert!(expected(&text).is_err(), "{:?} refused: {:?}", text, reason);
                    if let Err(code) = expected(&text) {
                        if code != "refused" && text.len() <= 32 {
                            prop_assert_eq!(reason.code(), code, "{:?}", text);
                        }
                    }
                }
            }
        }

        #[test]
        fn a_rate_is_between_zero_and_one_with_four_places_or_refused(text in candidate()) {
            if let Ok(rate) = CommissionRate::parse(&text) {
                let value = rate.as_decimal();
                prop_assert_eq!(value.scale(), RATE_DIGITS);
                prop_assert!(value >= Decimal::ZERO && value <= Decimal::ONE, "{:?}", text);
                prop_assert_eq!(CommissionRate::parse(&rate.to_string()), Ok(rate));
            }
        }

        #[test]
        fn a_split_adds_up_to_the_sale(cents in 1i64..=9_999_999_999, bp in 0i64..=10_000) {
            let amount = Money::new(Decimal::new(cents, 2)).expect("in range");
            let rate = CommissionRate::new(Decimal::new(bp, 4)).expect("a rate");
            let split = split(amount, rate);
            let sum = split.commission.checked_add(split.developer_share);
            prop_assert_eq!(sum, Some(amount));
            let exact = amount.as_decimal() * rate.as_decimal();
            prop_assert!((split.commission.as_decimal() - exact).abs() <= Decimal::new(5, 3));
        }

        #[test]
        fn a_currency_is_a_listed_three_letter_code(text in "[A-Za-z]{0,4}|.{0,6}") {
            if let Some(currency) = Currency::parse(&text) {
                prop_assert_eq!(currency.as_str(), text.as_str());
                prop_assert!(text.len() == 3 && text.bytes().all(|b| b.is_ascii_uppercase()));
            }
        }
    }
}
