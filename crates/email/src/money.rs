//! Amounts for billing e-mails: integer minor units + ISO 4217 currency.

use std::fmt;

/// An amount of money in minor units (cents), displayed the way a receipt shows it.
///
/// ```
/// use tollbooth_email::Money;
/// assert_eq!(Money::new(1900, "usd").to_string(), "$19.00");
/// assert_eq!(Money::new(-250, "EUR").to_string(), "-€2.50");
/// assert_eq!(Money::new(500, "jpy").to_string(), "¥500");
/// assert_eq!(Money::new(12345, "chf").to_string(), "123.45 CHF");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Money {
    minor: i64,
    currency: String,
}

/// Currencies without minor units (Stripe's list of zero-decimal currencies).
const ZERO_DECIMAL: [&str; 16] = [
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV",
    "XAF", "XOF", "XPF",
];

impl Money {
    /// `minor` units of `currency` (any case).
    pub fn new(minor: i64, currency: &str) -> Self {
        Self {
            minor,
            currency: currency.to_ascii_uppercase(),
        }
    }

    /// Amount in minor units.
    pub fn minor_units(&self) -> i64 {
        self.minor
    }

    /// ISO 4217 code, upper-case.
    pub fn currency(&self) -> &str {
        &self.currency
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        let number = if ZERO_DECIMAL.contains(&self.currency.as_str()) {
            abs.to_string()
        } else {
            format!("{}.{:02}", abs / 100, abs % 100)
        };
        let symbol = match self.currency.as_str() {
            "USD" => Some("$"),
            "EUR" => Some("€"),
            "GBP" => Some("£"),
            "JPY" => Some("¥"),
            _ => None,
        };
        match symbol {
            Some(symbol) => write!(f, "{sign}{symbol}{number}"),
            None => write!(f, "{sign}{number} {}", self.currency),
        }
    }
}
