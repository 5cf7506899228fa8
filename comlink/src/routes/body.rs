//! JSON bodies of the POST routes, validated field by field like query parameters (400 entries
//! with `location: "body"`).

use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult, FieldError, Location};
use crate::params::MSG_INVALID;

/// A JSON object body and the failed checks so far.
pub(crate) struct Body {
    fields: Map<String, Value>,
    errors: Vec<FieldError>,
}

impl Body {
    /// An empty or non-object body has no fields (each required field then fails); invalid
    /// JSON is a 400.
    pub fn parse(bytes: &[u8]) -> ApiResult<Self> {
        let fields = if bytes.iter().all(u8::is_ascii_whitespace) {
            Map::new()
        } else {
            match serde_json::from_slice::<Value>(bytes) {
                Ok(Value::Object(fields)) => fields,
                Ok(_) => Map::new(),
                Err(_) => return Err(ApiError::BadRequest("Invalid JSON body".to_owned())),
            }
        };
        Ok(Self {
            fields,
            errors: Vec::new(),
        })
    }

    fn fail(&mut self, name: &str, msg: &str) {
        self.errors.push(FieldError {
            value: self.fields.get(name).cloned(),
            msg: msg.to_owned(),
            param: name.to_owned(),
            location: Location::Body,
        });
    }

    /// A field that `parse` accepts; missing fails unless optional.
    pub fn check<T>(
        &mut self,
        name: &str,
        required: bool,
        msg: &str,
        parse: impl FnOnce(&Value) -> Option<T>,
    ) -> Option<T> {
        match self.fields.get(name) {
            None | Some(Value::Null) if !required => None,
            None => {
                self.fail(name, msg);
                None
            }
            Some(value) => {
                let parsed = parse(value);
                if parsed.is_none() {
                    self.fail(name, msg);
                }
                parsed
            }
        }
    }

    /// A required non-empty string.
    pub fn string(&mut self, name: &str) -> Option<String> {
        self.check(name, true, MSG_INVALID, |value| {
            value.as_str().filter(|s| !s.is_empty()).map(str::to_owned)
        })
    }

    /// A string among `allowed` (exact spelling).
    pub fn one_of(&mut self, name: &str, required: bool, allowed: &[&str]) -> Option<String> {
        self.check(name, required, MSG_INVALID, |value| {
            value
                .as_str()
                .filter(|s| allowed.contains(s))
                .map(str::to_owned)
        })
    }

    /// A required integer, as a JSON number or a decimal string (unix seconds).
    pub fn integer(&mut self, name: &str) -> Option<i64> {
        self.check(name, true, MSG_INVALID, |value| match value {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => crate::params::parse_int(s),
            _ => None,
        })
    }

    /// Fails with every recorded error.
    pub fn finish(self) -> ApiResult<()> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.errors))
        }
    }
}
