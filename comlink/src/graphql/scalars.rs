//! The custom scalars of serve.md §6.2, each serialised as a JSON string exactly like REST:
//! `Decimal` (plain decimal string, the stored scale kept), `Height` and `IntString` (base-10
//! integers), `DateTime` (ISO-8601 UTC with milliseconds and `Z`). `UUID` is async-graphql's.
//!
//! [`Conv`] turns the query library's field types into the GraphQL field types, so the object
//! wrappers in `types.rs` can list their fields without a conversion per field.

use std::fmt::Display;

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::{DateTime as ChronoDateTime, Utc};

macro_rules! string_scalar {
    ($(#[$meta:meta])* $name:ident, $graphql:literal, $parse:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(pub String);

        #[Scalar(name = $graphql)]
        impl ScalarType for $name {
            fn parse(value: Value) -> InputValueResult<Self> {
                match value {
                    Value::String(text) => {
                        let check: fn(&str) -> bool = $parse;
                        if check(&text) {
                            Ok($name(text))
                        } else {
                            Err(InputValueError::custom(format!(
                                "{text:?} is not a valid {}",
                                $graphql
                            )))
                        }
                    }
                    Value::Number(number) if $graphql != "DateTime" => Ok($name(number.to_string())),
                    other => Err(InputValueError::expected_type(other)),
                }
            }

            fn to_value(&self) -> Value {
                Value::String(self.0.clone())
            }
        }

        impl<T: Display> Conv<$name> for T {
            fn conv(&self) -> $name {
                $name(self.to_string())
            }
        }
    };
}

string_scalar!(
    /// A decimal amount as a string.
    Decimal,
    "Decimal",
    |text| indexer_domain::Decimal::parse(text).is_ok()
);
string_scalar!(
    /// A block height as a base-10 string.
    Height,
    "Height",
    |text| text.parse::<u64>().is_ok()
);
string_scalar!(
    /// A bigint id (`clobPairId`, `clientId`, …) as a base-10 string.
    IntString,
    "IntString",
    |text| text.parse::<i128>().is_ok()
);
string_scalar!(
    /// An instant as ISO-8601 UTC.
    DateTime,
    "DateTime",
    |text| ChronoDateTime::parse_from_rfc3339(text).is_ok()
);

impl Height {
    /// The height as a number (validated on input).
    pub fn value(&self) -> i64 {
        self.0.parse().unwrap_or(i64::MAX)
    }
}

impl DateTime {
    /// The instant (validated on input).
    pub fn value(&self) -> ChronoDateTime<Utc> {
        ChronoDateTime::parse_from_rfc3339(&self.0)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }
}

/// A conversion from a query-library field to its GraphQL type.
pub trait Conv<T> {
    fn conv(&self) -> T;
}

impl<T: Display> Conv<String> for T {
    fn conv(&self) -> String {
        self.to_string()
    }
}

impl<A: Conv<B>, B> Conv<Option<B>> for Option<A> {
    fn conv(&self) -> Option<B> {
        self.as_ref().map(Conv::conv)
    }
}

impl<A: Conv<B>, B> Conv<Vec<B>> for Vec<A> {
    fn conv(&self) -> Vec<B> {
        self.iter().map(Conv::conv).collect()
    }
}

macro_rules! copy_conv {
    ($($from:ty => $to:ty),*) => {
        $(impl Conv<$to> for $from {
            fn conv(&self) -> $to {
                <$to>::from(*self)
            }
        })*
    };
}

copy_conv!(i32 => i32, bool => bool, uuid::Uuid => uuid::Uuid);

impl Conv<i32> for u32 {
    fn conv(&self) -> i32 {
        i32::try_from(*self).unwrap_or(i32::MAX)
    }
}

impl Conv<i32> for String {
    fn conv(&self) -> i32 {
        self.parse().unwrap_or_default()
    }
}
