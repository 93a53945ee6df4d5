//! Query strings, validated like the course's `limit: int = 10`: every failing parameter
//! reported at once, at `["query", name]`.

use serde_json::{json, Value};

use super::form::urlencoded_pairs;
use super::invalid::{check_range, reported, Invalid};
use crate::error::{ApiError, FieldError};

/// Query-string parameters, validated like the course's `limit: int = 10`. Names and values
/// must be UTF-8 once percent-decoded; otherwise [`Query::finish`] answers 422.
pub struct Query {
    pairs: Vec<(String, String)>,
    errors: Vec<FieldError>,
}

impl Query {
    pub fn parse(query_string: &str) -> Query {
        match urlencoded_pairs(query_string.as_bytes(), "query") {
            Ok(pairs) => Query {
                pairs,
                errors: Vec::new(),
            },
            Err(e) => Query {
                pairs: Vec::new(),
                errors: vec![e],
            },
        }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn loc(name: &str) -> Vec<Value> {
        vec![json!("query"), json!(name)]
    }

    /// Records `invalid` as the refusal of parameter `name` (after those recorded so far).
    pub fn reject(&mut self, name: &str, invalid: Invalid) {
        self.errors.push(invalid.at(Query::loc(name)));
    }

    /// An integer parameter within `min..=max`, `default` when absent.
    pub fn integer(&mut self, name: &str, default: i64, min: i64, max: i64) -> i64 {
        let Some(raw) = self.get(name) else {
            return default;
        };
        let checked = raw
            .trim()
            .parse::<i64>()
            .map_err(|_| Invalid::not_an_integer())
            .and_then(|v| check_range(v, min, max).map(|()| v));
        match checked {
            Ok(v) => v,
            Err(invalid) => {
                self.reject(name, invalid);
                default
            }
        }
    }

    /// An optional integer parameter within `min..=max`: `None` when absent (or refused, the
    /// error then recorded for [`Query::finish`]).
    pub fn optional_integer(&mut self, name: &str, min: i64, max: i64) -> Option<i64> {
        self.get(name)?;
        let errors = self.errors.len();
        let value = self.integer(name, 0, min, max);
        (self.errors.len() == errors).then_some(value)
    }

    /// A string parameter, `""` when absent; NUL characters are refused.
    pub fn string(&mut self, name: &str) -> String {
        let value = self.get(name).unwrap_or_default().to_owned();
        if value.contains('\0') {
            self.reject(name, Invalid::nul());
            return String::new();
        }
        value
    }

    /// Ends validation: every recorded error becomes one 422.
    pub fn finish(self) -> Result<(), ApiError> {
        reported(self.errors)
    }
}
