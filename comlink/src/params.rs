//! Request parameters: lenient query-string parsing (serve.md §2.1) and the validation rules and
//! messages of §2.2, collected into one 400 body.
//!
//! A handler declares its parameters in order on a [`Validator`], each call returning the parsed
//! value (or `None` after recording an error), then calls [`Validator::finish`], which fails with
//! every recorded error. Unknown parameters are ignored.

use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use indexer_query::markets::{MarketsSnapshot, PerpetualMarketInfo};
use serde_json::Value;
use uuid::Uuid;

use crate::error::{ApiError, FieldError, Location};

/// Highest subaccount number (`subaccountNumber must be … less than 128001`).
pub const MAX_SUBACCOUNT_NUMBER: u32 = 128_000;
/// Highest parent subaccount number.
pub const MAX_PARENT_SUBACCOUNT_NUMBER: u32 = 127;
/// Longest accepted address.
const MAX_ADDRESS_LENGTH: usize = 90;
/// Human-readable part of dYdX addresses.
const DYDX_PREFIX: &str = "dydx";

pub const MSG_DYDX_ADDRESS: &str = "address must be a valid dydx address";
pub const MSG_ADDRESS: &str = "address must be a valid address";
pub const MSG_SUBACCOUNT_NUMBER: &str =
    "subaccountNumber must be a non-negative integer less than 128001";
pub const MSG_PARENT_SUBACCOUNT_NUMBER: &str =
    "parentSubaccountNumber must be a non-negative integer less than 128";
pub const MSG_PAGE: &str = "page must be a non-negative integer";
pub const MSG_TICKER: &str = "ticker must be a valid ticker (BTC-USD, etc)";
pub const MSG_INVALID: &str = "Invalid value";

/// The decoded `key=value` pairs of a query string, in order, repeats kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryParams {
    pairs: Vec<(String, String)>,
}

impl QueryParams {
    /// Parses leniently: the official clients do not percent-encode, so a malformed escape is
    /// kept literally and `+` means a space (as in forms; timestamps turn it back into `+`).
    pub fn parse(query: Option<&str>) -> Self {
        let pairs = query
            .unwrap_or_default()
            .split('&')
            .filter(|part| !part.is_empty())
            .map(|part| {
                let (key, value) = part.split_once('=').unwrap_or((part, ""));
                (decode_component(key), decode_component(value))
            })
            .collect();
        Self { pairs }
    }

    /// Every value of `name`, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .collect()
    }
}

/// Percent-decodes one component, keeping malformed escapes and invalid UTF-8 as received.
fn decode_component(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match bytes.get(i + 1..i + 3) {
                Some(hex) if hex.iter().all(u8::is_ascii_hexdigit) => {
                    let text = std::str::from_utf8(hex).expect("ASCII hex digits");
                    out.push(u8::from_str_radix(text, 16).expect("two hex digits"));
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| text.to_owned())
}

/// What a request carried for one parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Raw<'a> {
    Missing,
    One(&'a str),
    /// A repeated parameter (reported back as an array).
    Many(Vec<&'a str>),
}

impl Raw<'_> {
    fn to_json(&self) -> Option<Value> {
        match self {
            Raw::Missing => None,
            Raw::One(value) => Some(Value::String((*value).to_owned())),
            Raw::Many(values) => Some(Value::Array(
                values
                    .iter()
                    .map(|v| Value::String((*v).to_owned()))
                    .collect(),
            )),
        }
    }
}

/// Validates the parameters of one request.
pub struct Validator<'a> {
    query: &'a QueryParams,
    path: &'a [(String, String)],
    api_limit: u32,
    errors: Vec<FieldError>,
}

impl<'a> Validator<'a> {
    pub fn new(query: &'a QueryParams, path: &'a [(String, String)], api_limit: u32) -> Self {
        Self {
            query,
            path,
            api_limit,
            errors: Vec::new(),
        }
    }

    fn raw(&self, location: Location, name: &str) -> Raw<'a> {
        let values: Vec<&'a str> = match location {
            Location::Params => self
                .path
                .iter()
                .filter(|(key, _)| key == name)
                .map(|(_, value)| value.as_str())
                .collect(),
            _ => self.query.all(name),
        };
        match values.len() {
            0 => Raw::Missing,
            1 => Raw::One(values[0]),
            _ => Raw::Many(values),
        }
    }

    fn fail(&mut self, raw: &Raw<'_>, location: Location, name: &str, msg: &str) {
        self.errors.push(FieldError {
            value: raw.to_json(),
            msg: msg.to_owned(),
            param: name.to_owned(),
            location,
        });
    }

    /// The general single-value rule: missing is an error only when `required`; a repeated
    /// parameter is invalid; otherwise `parse` decides.
    pub fn check<T>(
        &mut self,
        location: Location,
        name: &str,
        required: bool,
        msg: &str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Option<T> {
        let raw = self.raw(location, name);
        let parsed = match &raw {
            Raw::Missing if !required => return None,
            Raw::One(value) => parse(value),
            Raw::Missing | Raw::Many(_) => None,
        };
        if parsed.is_none() {
            self.fail(&raw, location, name, msg);
        }
        parsed
    }

    /// `limit`: 1 … `API_LIMIT_V4`, default `API_LIMIT_V4`.
    pub fn limit(&mut self) -> u32 {
        let max = self.api_limit;
        let msg = format!("limit must be a positive integer that is not greater than max: {max}");
        self.check(Location::Query, "limit", false, &msg, |text| {
            parse_int(text)
                .filter(|n| (1..=i64::from(max)).contains(n))
                .map(|n| n as u32)
        })
        .unwrap_or(max)
    }

    /// `page`: an integer ≥ 1; absent means no pagination.
    pub fn page(&mut self) -> Option<u32> {
        self.check(Location::Query, "page", false, MSG_PAGE, |text| {
            parse_int(text)
                .filter(|n| (1..=i64::from(u32::MAX)).contains(n))
                .map(|n| n as u32)
        })
    }

    /// An optional height-like integer ≥ 0 with the `{name} must be a non-negative integer`
    /// message.
    pub fn non_negative_int(&mut self, name: &str) -> Option<i64> {
        let msg = format!("{name} must be a non-negative integer");
        self.check(Location::Query, name, false, &msg, |text| {
            parse_int(text).filter(|n| *n >= 0)
        })
    }

    /// An optional integer > 0 with the generic message.
    pub fn positive_int(&mut self, name: &str) -> Option<i64> {
        self.check(Location::Query, name, false, MSG_INVALID, |text| {
            parse_int(text).filter(|n| *n > 0)
        })
    }

    /// An optional ISO-8601 date or date-time.
    pub fn iso_time(&mut self, name: &str) -> Option<DateTime<Utc>> {
        self.check(Location::Query, name, false, MSG_INVALID, parse_iso8601)
    }

    /// A required dYdX account address: at most 90 alphanumeric characters, valid bech32 with the
    /// `dydx` prefix (parsed with cosmrs). Returns the canonical (lower-case) form.
    pub fn dydx_address(&mut self, location: Location, msg: &str) -> Option<String> {
        self.check(location, "address", true, msg, parse_dydx_address)
    }

    /// `subaccountNumber`: 0 … 128000.
    pub fn subaccount_number(&mut self, location: Location) -> Option<u32> {
        self.check(
            location,
            "subaccountNumber",
            true,
            MSG_SUBACCOUNT_NUMBER,
            |text| {
                parse_int(text)
                    .filter(|n| (0..=i64::from(MAX_SUBACCOUNT_NUMBER)).contains(n))
                    .map(|n| n as u32)
            },
        )
    }

    /// `parentSubaccountNumber`: 0 … 127.
    pub fn parent_subaccount_number(&mut self, location: Location) -> Option<u32> {
        self.check(
            location,
            "parentSubaccountNumber",
            true,
            MSG_PARENT_SUBACCOUNT_NUMBER,
            |text| {
                parse_int(text)
                    .filter(|n| (0..=i64::from(MAX_PARENT_SUBACCOUNT_NUMBER)).contains(n))
                    .map(|n| n as u32)
            },
        )
    }

    /// A ticker known to the market cache.
    pub fn ticker(
        &mut self,
        location: Location,
        name: &str,
        required: bool,
        markets: &MarketsSnapshot,
    ) -> Option<Arc<PerpetualMarketInfo>> {
        self.check(location, name, required, MSG_TICKER, |text| {
            markets.by_ticker(text).cloned()
        })
    }

    /// A single value of a string enum (exact spelling).
    pub fn one_of<E: FromStr>(&mut self, name: &str, required: bool, msg: &str) -> Option<E> {
        self.check(Location::Query, name, required, msg, |text| {
            text.parse().ok()
        })
    }

    /// An array parameter: comma lists and repeats concatenated, upper-cased, every element a
    /// member of the enum. `Some(empty)` never happens: an empty value fails.
    pub fn list_of<E: FromStr>(&mut self, name: &str, msg: &str) -> Option<Vec<E>> {
        let raw = self.raw(Location::Query, name);
        let values = match &raw {
            Raw::Missing => return None,
            Raw::One(value) => vec![*value],
            Raw::Many(values) => values.clone(),
        };
        let parsed: Option<Vec<E>> = values
            .iter()
            .flat_map(|value| value.split(','))
            .map(|item| {
                let item = item.trim();
                (!item.is_empty())
                    .then(|| item.to_ascii_uppercase().parse().ok())
                    .flatten()
            })
            .collect();
        match parsed {
            Some(list) if !list.is_empty() => Some(list),
            _ => {
                self.fail(&raw, Location::Query, name, msg);
                None
            }
        }
    }

    /// A boolean, case-insensitive `true`/`false`/`1`/`0` (serve.md D2).
    pub fn boolean(&mut self, name: &str) -> Option<bool> {
        self.check(Location::Query, name, false, MSG_INVALID, |text| match text
            .to_ascii_lowercase()
            .as_str()
        {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        })
    }

    /// A required UUID path parameter.
    pub fn uuid(&mut self, location: Location, name: &str) -> Option<Uuid> {
        self.check(location, name, true, MSG_INVALID, |text| {
            Uuid::parse_str(text).ok()
        })
    }

    /// Records an error that is not tied to one rule (e.g. two parameters that must come
    /// together).
    pub fn error(&mut self, location: Location, name: &str, msg: &str) {
        let raw = self.raw(location, name);
        self.fail(&raw, location, name, msg);
    }

    /// Records an error built elsewhere (e.g. for a header).
    pub fn push(&mut self, error: FieldError) {
        self.errors.push(error);
    }

    /// Whether the request carried `name` in the query.
    pub fn has(&self, name: &str) -> bool {
        !self.query.all(name).is_empty()
    }

    /// Fails with every recorded error.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.errors))
        }
    }
}

/// validator.js `isInt`: optional sign, decimal digits only (leading zeros allowed).
pub fn parse_int(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.strip_prefix('+').unwrap_or(text).parse().ok()
}

/// A dYdX bech32 address in canonical lower-case form.
pub fn parse_dydx_address(text: &str) -> Option<String> {
    if text.is_empty()
        || text.len() > MAX_ADDRESS_LENGTH
        || !text.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return None;
    }
    let account = cosmrs::AccountId::from_str(text).ok()?;
    (account.prefix() == DYDX_PREFIX).then(|| account.to_string())
}

/// The address character rule alone (routes that accept addresses of other chains).
pub fn is_plain_address(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= MAX_ADDRESS_LENGTH
        && text.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// ISO-8601 as validator.js accepts it: a date, or a date-time with optional seconds, fraction
/// and `Z`/offset. A time without an offset is UTC. A space where the offset sign belongs is a
/// `+` that arrived un-encoded.
pub fn parse_iso8601(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim_end().replace(' ', "+");
    if let Ok(date) = NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
        return date.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    }
    let (local, offset) = split_offset(&text)?;
    let naive = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|format| NaiveDateTime::parse_from_str(local, format).ok())?;
    Some(naive.and_utc() - chrono::Duration::seconds(offset))
}

/// Splits a date-time into its local part and its UTC offset in seconds.
fn split_offset(text: &str) -> Option<(&str, i64)> {
    if let Some(local) = text.strip_suffix(['Z', 'z']) {
        return Some((local, 0));
    }
    let time_start = text.find('T').or_else(|| text.find('t'))?;
    let Some(sign_at) = text[time_start..].rfind(['+', '-']).map(|i| time_start + i) else {
        return Some((text, 0));
    };
    let sign = if text.as_bytes()[sign_at] == b'-' {
        -1
    } else {
        1
    };
    let digits: String = text[sign_at + 1..].chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i64 = digits[..2].parse().ok()?;
    let minutes: i64 = digits[2..].parse().ok()?;
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some((&text[..sign_at], sign * (hours * 3600 + minutes * 60)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(text: &str) -> QueryParams {
        QueryParams::parse(Some(text))
    }

    #[test]
    fn query_strings_decode_leniently_and_keep_repeats() {
        let params = query("status=OPEN&status=FILLED&t=2024-05-01T10:00:00%2B02:00&bad=%zz&e=");
        assert_eq!(params.all("status"), ["OPEN", "FILLED"]);
        assert_eq!(params.all("t"), ["2024-05-01T10:00:00+02:00"]);
        assert_eq!(params.all("bad"), ["%zz"]);
        assert_eq!(params.all("e"), [""]);
        assert_eq!(query("x=%4").all("x"), ["%4"]);
    }

    #[test]
    fn integers_follow_validator_js() {
        assert_eq!(parse_int("12"), Some(12));
        assert_eq!(parse_int("+7"), Some(7));
        assert_eq!(parse_int("007"), Some(7));
        assert_eq!(parse_int("-3"), Some(-3));
        for bad in ["", "3.2", "abc", "1e3", " 1", "+", "99999999999999999999"] {
            assert_eq!(parse_int(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn iso_times_accept_dates_offsets_and_unencoded_plus() {
        let t = |s| parse_iso8601(s).map(|t| indexer_domain::time::to_iso(&t));
        assert_eq!(t("2024-05-01").unwrap(), "2024-05-01T00:00:00.000Z");
        assert_eq!(t("2024-05-01T10:00Z").unwrap(), "2024-05-01T10:00:00.000Z");
        assert_eq!(
            t("2024-05-01T10:00:00.123Z").unwrap(),
            "2024-05-01T10:00:00.123Z"
        );
        assert_eq!(
            t("2024-05-01T10:00:00+02:00").unwrap(),
            "2024-05-01T08:00:00.000Z"
        );
        assert_eq!(
            t("2024-05-01T10:00:00 02:00").unwrap(),
            "2024-05-01T08:00:00.000Z"
        );
        assert_eq!(
            t("2024-05-01T10:00:00-0130").unwrap(),
            "2024-05-01T11:30:00.000Z"
        );
        assert_eq!(
            t("2024-05-01T10:00:00").unwrap(),
            "2024-05-01T10:00:00.000Z"
        );
        for bad in [
            "yesterday",
            "2024-13-01",
            "2024-05-01T25:00:00Z",
            "2024-05-01T10:00:00+2",
        ] {
            assert_eq!(t(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn dydx_addresses_must_be_bech32_with_the_dydx_prefix() {
        let valid = indexer_domain::vault::megavault_address();
        assert_eq!(parse_dydx_address(valid).as_deref(), Some(valid));
        assert_eq!(
            parse_dydx_address(&valid.to_ascii_uppercase()).as_deref(),
            Some(valid)
        );
        let mut broken_checksum = valid.to_owned();
        broken_checksum.pop();
        broken_checksum.push('q');
        for bad in [
            "inv@lid",
            "",
            broken_checksum.as_str(),
            "cosmos1qypqxpq9qcrsszg2pvxq6rs0zqg3yyc5lzv7xu",
        ] {
            assert_eq!(parse_dydx_address(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn errors_keep_declaration_order_and_raw_values() {
        let params = query("limit=0&status=OPEN,bogus&subaccountNumber=1&subaccountNumber=2");
        let mut v = Validator::new(&params, &[], 1000);
        assert_eq!(v.dydx_address(Location::Query, MSG_DYDX_ADDRESS), None);
        assert_eq!(v.subaccount_number(Location::Query), None);
        assert_eq!(v.limit(), 1000);
        assert_eq!(
            v.list_of::<indexer_domain::PerpetualPositionStatus>("status", "bad status"),
            None
        );
        let Err(ApiError::Validation(errors)) = v.finish() else {
            panic!("expected a validation error");
        };
        let json = serde_json::to_value(&errors).unwrap();
        assert_eq!(
            json,
            serde_json::json!([
                {"msg": MSG_DYDX_ADDRESS, "param": "address", "location": "query"},
                {"value": ["1", "2"], "msg": MSG_SUBACCOUNT_NUMBER, "param": "subaccountNumber", "location": "query"},
                {"value": "0", "msg": "limit must be a positive integer that is not greater than max: 1000", "param": "limit", "location": "query"},
                {"value": "OPEN,bogus", "msg": "bad status", "param": "status", "location": "query"},
            ])
        );
    }

    #[test]
    fn array_parameters_are_upper_cased_and_concatenated() {
        let params = query("status=open&status=CLOSED,liquidated&empty=");
        let mut v = Validator::new(&params, &[], 1000);
        let statuses: Vec<indexer_domain::PerpetualPositionStatus> =
            v.list_of("status", "bad").unwrap();
        assert_eq!(statuses.len(), 3);
        assert_eq!(
            v.list_of::<indexer_domain::PerpetualPositionStatus>("empty", "bad"),
            None
        );
        assert!(v.finish().is_err());
    }

    #[test]
    fn booleans_are_case_insensitive() {
        let params = query("a=True&b=0&c=yes");
        let mut v = Validator::new(&params, &[], 1000);
        assert_eq!(v.boolean("a"), Some(true));
        assert_eq!(v.boolean("b"), Some(false));
        assert_eq!(v.boolean("c"), None);
        assert_eq!(v.boolean("d"), None);
        let Err(ApiError::Validation(errors)) = v.finish() else {
            panic!("expected an error for c");
        };
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].param, "c");
    }
}
