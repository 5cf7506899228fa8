//! The single error type of this crate. Every fallible function of `indexer-domain` returns
//! [`Error`], so callers need one `From` impl (or one `?`) at their crate boundary. Variants carry
//! enough context to be logged as-is: which value was rejected and why.

/// Errors of the pure domain logic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A decimal string could not be parsed.
    #[error("invalid decimal {0:?}")]
    InvalidDecimal(String),

    /// Division by a zero decimal (Postgres raises `division by zero` in the same situation).
    #[error("division by zero")]
    DivisionByZero,

    /// A decimal was expected to be an integer that fits the target type, but is not.
    #[error("{value} is not an integer representable as {target}")]
    NotAnInteger { value: String, target: &'static str },

    /// A SerializableInt (Go `big.Int` gob encoding) carried a version other than 1.
    #[error("unsupported SerializableInt version {0} (expected 1)")]
    SerializableIntVersion(u8),

    /// A string is not one of the spellings of an enum.
    #[error("invalid {type_name} {value:?}")]
    InvalidEnumString {
        type_name: &'static str,
        value: String,
    },

    /// A protobuf enum number (or flag combination) has no domain counterpart.
    #[error("invalid {type_name} value {value}")]
    InvalidProtoValue { type_name: &'static str, value: i64 },

    /// An event id that is not 12 bytes (24 hex digits).
    #[error("invalid event id {0:?}")]
    InvalidEventId(String),

    /// A protobuf message field that must be present is absent.
    #[error("missing field {0}")]
    MissingField(&'static str),

    /// A block event is neither inside a transaction nor a BEGIN_BLOCK / END_BLOCK event.
    #[error("event has neither a transaction index nor a BEGIN_BLOCK/END_BLOCK marker")]
    UnplacedEvent,

    /// A timestamp lies outside the range chrono can represent.
    #[error("timestamp out of range: {seconds}s {nanos}ns")]
    TimestampOutOfRange { seconds: i64, nanos: i32 },
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;
