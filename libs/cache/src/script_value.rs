//! Reading script replies: Lua tables arrive as arrays, strings as bulk strings, numbers as
//! integers, `false` / nil as nil.

use redis::Value;

/// A script answered with something other than what its wrapper expects (a bug, or a script of
/// another version loaded under the same name).
#[derive(Debug, thiserror::Error)]
pub enum ScriptReplyError {
    #[error("unexpected script reply shape: {0}")]
    Shape(&'static str),
    #[error("script reply is not a number: {0}")]
    Number(String),
}

pub(crate) fn array(value: Value) -> Result<Vec<Value>, ScriptReplyError> {
    match value {
        Value::Array(items) => Ok(items),
        Value::Nil => Ok(Vec::new()),
        _ => Err(ScriptReplyError::Shape("expected an array")),
    }
}

pub(crate) fn bytes(value: Value) -> Result<Vec<u8>, ScriptReplyError> {
    match value {
        Value::BulkString(b) => Ok(b),
        Value::SimpleString(s) => Ok(s.into_bytes()),
        Value::Okay => Ok(b"OK".to_vec()),
        Value::Int(i) => Ok(i.to_string().into_bytes()),
        Value::Nil => Ok(Vec::new()),
        _ => Err(ScriptReplyError::Shape("expected a string")),
    }
}

pub(crate) fn string(value: Value) -> Result<String, ScriptReplyError> {
    String::from_utf8(bytes(value)?).map_err(|_| ScriptReplyError::Shape("expected UTF-8 text"))
}

/// A flat `HGETALL` reply as (field, value) pairs.
pub(crate) fn pairs(value: Value) -> Result<Vec<(String, String)>, ScriptReplyError> {
    let items = array(value)?;
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut iter = items.into_iter();
    while let (Some(field), Some(val)) = (iter.next(), iter.next()) {
        out.push((string(field)?, string(val)?));
    }
    Ok(out)
}
