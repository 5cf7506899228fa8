//! RFC 6455 framing, server side: client frames (masked, possibly fragmented, possibly
//! compressed) become [`Event`]s; server frames (never masked) are encoded into a write buffer.

use bytes::{Buf, BytesMut};

use super::deflate::{self, InflateError};

pub mod opcode {
    pub const CONTINUATION: u8 = 0x0;
    pub const TEXT: u8 = 0x1;
    pub const BINARY: u8 = 0x2;
    pub const CLOSE: u8 = 0x8;
    pub const PING: u8 = 0x9;
    pub const PONG: u8 = 0xA;
}

const FIN: u8 = 0x80;
const RSV1: u8 = 0x40;
const RSV2_3: u8 = 0x30;
const MASKED: u8 = 0x80;
/// Control frame payloads are at most this long (RFC 6455 §5.5).
const MAX_CONTROL_PAYLOAD: usize = 125;

/// One complete client message or control frame.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong,
    /// The peer's close: its code and reason, if it sent one.
    Close(Option<(u16, String)>),
}

/// Why the connection must be failed; each maps to the close code RFC 6455 §7.4.1 gives it.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("protocol error: {0}")]
    Protocol(&'static str),
    #[error("message above {0} bytes")]
    TooBig(usize),
    #[error("invalid payload: {0}")]
    InvalidPayload(&'static str),
}

impl ReadError {
    pub fn close_code(&self) -> u16 {
        match self {
            Self::Protocol(_) => 1002,
            Self::TooBig(_) => 1009,
            Self::InvalidPayload(_) => 1007,
        }
    }
}

/// A message being assembled from fragments.
struct Partial {
    opcode: u8,
    compressed: bool,
    payload: Vec<u8>,
}

/// Turns the bytes read from a client into events.
pub struct MessageReader {
    max_bytes: usize,
    deflate: bool,
    partial: Option<Partial>,
}

impl MessageReader {
    /// `max_bytes` bounds a frame, a message and an inflated message; `deflate` says whether
    /// permessage-deflate was negotiated (RSV1 is a protocol error otherwise).
    pub fn new(max_bytes: usize, deflate: bool) -> Self {
        Self {
            max_bytes,
            deflate,
            partial: None,
        }
    }

    /// The next event from `buf` (consuming its bytes), `None` when more bytes are needed.
    pub fn next_event(&mut self, buf: &mut BytesMut) -> Result<Option<Event>, ReadError> {
        loop {
            let Some(frame) = self.next_frame(buf)? else {
                return Ok(None);
            };
            if let Some(event) = self.on_frame(frame)? {
                return Ok(Some(event));
            }
        }
    }

    fn next_frame(&self, buf: &mut BytesMut) -> Result<Option<RawFrame>, ReadError> {
        let Some(header) = parse_header(buf)? else {
            return Ok(None);
        };
        let len = usize::try_from(header.len).map_err(|_| ReadError::TooBig(self.max_bytes))?;
        if len > self.max_bytes {
            return Err(ReadError::TooBig(self.max_bytes));
        }
        if buf.len() < header.size + len {
            buf.reserve(header.size + len - buf.len());
            return Ok(None);
        }
        buf.advance(header.size);
        let mut payload = buf.split_to(len).to_vec();
        unmask(&mut payload, header.mask);
        Ok(Some(RawFrame {
            fin: header.first & FIN != 0,
            rsv1: header.first & RSV1 != 0,
            opcode: header.first & 0x0f,
            payload,
        }))
    }

    fn on_frame(&mut self, frame: RawFrame) -> Result<Option<Event>, ReadError> {
        if frame.rsv1 && !self.deflate {
            return Err(ReadError::Protocol(
                "RSV1 set without a negotiated extension",
            ));
        }
        match frame.opcode {
            opcode::CLOSE | opcode::PING | opcode::PONG => {
                if !frame.fin || frame.payload.len() > MAX_CONTROL_PAYLOAD || frame.rsv1 {
                    return Err(ReadError::Protocol("invalid control frame"));
                }
                control_event(frame.opcode, frame.payload).map(Some)
            }
            opcode::TEXT | opcode::BINARY => {
                if self.partial.is_some() {
                    return Err(ReadError::Protocol("new message inside a fragmented one"));
                }
                let partial = Partial {
                    opcode: frame.opcode,
                    compressed: frame.rsv1,
                    payload: frame.payload,
                };
                if frame.fin {
                    return self.finish(partial).map(Some);
                }
                self.partial = Some(partial);
                Ok(None)
            }
            opcode::CONTINUATION => {
                if frame.rsv1 {
                    return Err(ReadError::Protocol("RSV1 on a continuation frame"));
                }
                let Some(mut partial) = self.partial.take() else {
                    return Err(ReadError::Protocol("continuation without a message"));
                };
                if partial.payload.len() + frame.payload.len() > self.max_bytes {
                    return Err(ReadError::TooBig(self.max_bytes));
                }
                partial.payload.extend_from_slice(&frame.payload);
                if frame.fin {
                    return self.finish(partial).map(Some);
                }
                self.partial = Some(partial);
                Ok(None)
            }
            _ => Err(ReadError::Protocol("unknown opcode")),
        }
    }

    fn finish(&self, partial: Partial) -> Result<Event, ReadError> {
        let payload = if partial.compressed {
            deflate::inflate(&partial.payload, self.max_bytes).map_err(|error| match error {
                InflateError::TooBig(max) => ReadError::TooBig(max),
                InflateError::Corrupt => ReadError::InvalidPayload("invalid deflate data"),
            })?
        } else {
            partial.payload
        };
        if partial.opcode == opcode::BINARY {
            return Ok(Event::Binary(payload));
        }
        String::from_utf8(payload)
            .map(Event::Text)
            .map_err(|_| ReadError::InvalidPayload("text frame is not UTF-8"))
    }
}

fn control_event(code: u8, payload: Vec<u8>) -> Result<Event, ReadError> {
    match code {
        opcode::PING => Ok(Event::Ping(payload)),
        opcode::PONG => Ok(Event::Pong),
        _ => match payload.len() {
            0 => Ok(Event::Close(None)),
            1 => Err(ReadError::Protocol("close payload of one byte")),
            _ => {
                let status = u16::from_be_bytes([payload[0], payload[1]]);
                let reason = String::from_utf8(payload[2..].to_vec())
                    .map_err(|_| ReadError::InvalidPayload("close reason is not UTF-8"))?;
                Ok(Event::Close(Some((status, reason))))
            }
        },
    }
}

struct RawFrame {
    fin: bool,
    rsv1: bool,
    opcode: u8,
    payload: Vec<u8>,
}

struct Header {
    first: u8,
    len: u64,
    mask: [u8; 4],
    /// Bytes the header takes.
    size: usize,
}

fn parse_header(buf: &[u8]) -> Result<Option<Header>, ReadError> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let (first, second) = (buf[0], buf[1]);
    if first & RSV2_3 != 0 {
        return Err(ReadError::Protocol("RSV2/RSV3 set"));
    }
    if second & MASKED == 0 {
        return Err(ReadError::Protocol("client frames must be masked"));
    }
    let (len, len_size) = match second & 0x7f {
        126 if buf.len() >= 4 => (u64::from(u16::from_be_bytes([buf[2], buf[3]])), 2),
        127 if buf.len() >= 10 => (
            u64::from_be_bytes(buf[2..10].try_into().expect("eight bytes")),
            8,
        ),
        126 | 127 => return Ok(None),
        short => (u64::from(short), 0),
    };
    let size = 2 + len_size + 4;
    if buf.len() < size {
        return Ok(None);
    }
    let mask = buf[size - 4..size].try_into().expect("four bytes");
    Ok(Some(Header {
        first,
        len,
        mask,
        size,
    }))
}

fn unmask(payload: &mut [u8], mask: [u8; 4]) {
    for (i, byte) in payload.iter_mut().enumerate() {
        *byte ^= mask[i & 3];
    }
}

/// Appends a server frame header (FIN set, unmasked).
pub fn push_header(out: &mut Vec<u8>, code: u8, compressed: bool, len: usize) {
    out.push(FIN | if compressed { RSV1 } else { 0 } | code);
    match len {
        0..=125 => out.push(len as u8),
        126..=0xffff => {
            out.push(126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
}

/// Appends a whole unfragmented server frame.
pub fn push_frame(out: &mut Vec<u8>, code: u8, compressed: bool, payload: &[u8]) {
    push_header(out, code, compressed, payload.len());
    out.extend_from_slice(payload);
}

/// Appends a close frame; the reason is cut (on a character boundary) to fit a control frame.
pub fn push_close(out: &mut Vec<u8>, code: Option<u16>, reason: &str) {
    let Some(code) = code else {
        return push_frame(out, opcode::CLOSE, false, &[]);
    };
    let mut end = reason.len().min(MAX_CONTROL_PAYLOAD - 2);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(&reason.as_bytes()[..end]);
    push_frame(out, opcode::CLOSE, false, &payload);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client frame as a client would send it (masked).
    fn client_frame(first: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [0x37, 0xfa, 0x21, 0x3d];
        let mut out = vec![first];
        match payload.len() {
            0..=125 => out.push(MASKED | payload.len() as u8),
            126..=0xffff => {
                out.push(MASKED | 126);
                out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
            }
            n => {
                out.push(MASKED | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        out
    }

    fn read_all(reader: &mut MessageReader, bytes: &[u8]) -> Result<Vec<Event>, ReadError> {
        let mut buf = BytesMut::new();
        let mut events = Vec::new();
        // One byte at a time: every partial-header and partial-payload path is taken.
        for byte in bytes {
            buf.extend_from_slice(&[*byte]);
            while let Some(event) = reader.next_event(&mut buf)? {
                events.push(event);
            }
        }
        Ok(events)
    }

    #[test]
    fn masked_text_ping_and_close_frames_are_read() {
        let mut bytes = client_frame(FIN | opcode::TEXT, "{\"type\":\"ping\"}".as_bytes());
        bytes.extend(client_frame(FIN | opcode::PING, b"hi"));
        bytes.extend(client_frame(FIN | opcode::TEXT, &vec![b'x'; 300]));
        bytes.extend(client_frame(FIN | opcode::CLOSE, b"\x03\xe8bye"));
        let events = read_all(&mut MessageReader::new(1000, false), &bytes).unwrap();
        assert_eq!(
            events,
            vec![
                Event::Text("{\"type\":\"ping\"}".into()),
                Event::Ping(b"hi".to_vec()),
                Event::Text("x".repeat(300)),
                Event::Close(Some((1000, "bye".into()))),
            ]
        );
    }

    #[test]
    fn fragments_with_a_ping_between_them_make_one_message() {
        let mut bytes = client_frame(opcode::TEXT, b"ab");
        bytes.extend(client_frame(FIN | opcode::PING, b""));
        bytes.extend(client_frame(opcode::CONTINUATION, b"cd"));
        bytes.extend(client_frame(FIN | opcode::CONTINUATION, b"e"));
        let events = read_all(&mut MessageReader::new(1000, false), &bytes).unwrap();
        assert_eq!(
            events,
            vec![Event::Ping(vec![]), Event::Text("abcde".into())]
        );
    }

    #[test]
    fn a_compressed_message_is_inflated_when_deflate_was_negotiated() {
        let text = "{\"type\":\"subscribe\",\"channel\":\"v4_trades\",\"id\":\"BTC-USD\"}";
        let bytes = client_frame(
            FIN | RSV1 | opcode::TEXT,
            &deflate::compress(text.as_bytes()),
        );
        let events = read_all(&mut MessageReader::new(1000, true), &bytes).unwrap();
        assert_eq!(events, vec![Event::Text(text.into())]);
        assert_eq!(
            read_all(&mut MessageReader::new(1000, false), &bytes),
            Err(ReadError::Protocol(
                "RSV1 set without a negotiated extension"
            ))
        );
    }

    #[test]
    fn violations_fail_with_their_close_codes() {
        let cases: Vec<(Vec<u8>, u16)> = vec![
            (client_frame(FIN | opcode::TEXT, &[b'a'; 2000]), 1009),
            (vec![FIN | opcode::TEXT, 2, b'h', b'i'], 1002), // unmasked
            (client_frame(FIN | 0x3, b""), 1002),            // reserved opcode
            (client_frame(FIN | opcode::CONTINUATION, b"x"), 1002),
            (client_frame(opcode::PING, b""), 1002), // fragmented control frame
            (client_frame(FIN | opcode::TEXT, &[0xff, 0xfe]), 1007),
            (
                client_frame(FIN | RSV1 | opcode::TEXT, b"\xff\xff\xff"),
                1007,
            ),
        ];
        for (bytes, code) in cases {
            let error = read_all(&mut MessageReader::new(1000, true), &bytes).unwrap_err();
            assert_eq!(error.close_code(), code, "{error}");
        }
    }

    #[test]
    fn server_frames_use_the_shortest_length_form() {
        for (len, header) in [(5usize, 2usize), (200, 4), (70_000, 10)] {
            let mut out = Vec::new();
            push_frame(&mut out, opcode::TEXT, false, &vec![b'a'; len]);
            assert_eq!(out.len(), header + len);
            assert_eq!(out[0], FIN | opcode::TEXT);
        }
        let mut out = Vec::new();
        push_close(&mut out, Some(1008), &"é".repeat(100));
        assert!(out.len() <= 2 + 125);
        assert!(std::str::from_utf8(&out[4..]).is_ok(), "cut on a character");
    }
}
