//! Pure domain logic of the indexer, shared by every service: no I/O, no clocks, no globals
//! besides computed constants. Amounts are exact [`Decimal`]s; identifiers, protocol-integer
//! conversions, enums, candle periods and times follow ingest.md §3.10, §4.6, §4.10 and serve.md
//! Appendix A so that every service produces byte-identical values.

pub mod candles;
pub mod decimal;
pub mod enums;
pub mod error;
pub mod ids;
pub mod order_id;
mod proto_enums;
pub mod quantums;
pub mod serializable_int;
pub mod time;
pub mod vault;

pub use candles::CandleResolution;
pub use decimal::{weighted_average, Decimal};
pub use enums::*;
pub use error::{Error, Result};
pub use ids::{EventId, EventPlacement};
pub use quantums::MarketParams;
