//! The server side of the websocket protocol (RFC 6455) with permessage-deflate (RFC 7692).
//!
//! Ours rather than tungstenite's because tungstenite (0.29) has no extension support and
//! refuses any frame with RSV1 set, so a client that negotiated compression could not even be
//! read; and because owning the frame layer lets a data frame's compressed tail be computed once
//! and shared by every connection ([`deflate`]).
//!
//! | Module | Role |
//! |---|---|
//! | [`handshake`] | the HTTP upgrade: validation, `Sec-WebSocket-Accept`, extension negotiation |
//! | [`frame`] | client frames → messages (unmasking, fragments, limits), server frame encoding |
//! | [`deflate`] | raw deflate with sync flush, the shared-tail layout, bounded inflate |

pub mod deflate;
pub mod frame;
pub mod handshake;

pub use frame::{Event, MessageReader, ReadError};
pub use handshake::{accept, HandshakeError, Upgrade};
