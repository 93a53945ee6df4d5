//! Why a value is refused, in pydantic v1's words: every message and type of the length,
//! range, integer and NUL rules is written here once, for bodies, query strings and paths
//! alike, and for the services' own rules ([`check_length`], [`check_range`]).

use serde_json::{json, Value};

use crate::error::{ApiError, FieldError};

/// Why a field's value is refused: pydantic v1's `msg`, `type` and optional `ctx`; the
/// location is added where the field is read ([`super::Fields`], [`super::Query`]), or by
/// [`Invalid::at`].
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    pub msg: String,
    pub kind: &'static str,
    pub ctx: Option<Value>,
}

impl Invalid {
    pub fn new(msg: impl Into<String>, kind: &'static str) -> Invalid {
        Invalid {
            msg: msg.into(),
            kind,
            ctx: None,
        }
    }

    pub fn with_ctx(mut self, ctx: Value) -> Invalid {
        self.ctx = Some(ctx);
        self
    }

    /// The refusal of a value that passes `bound`: `ensure this value …`, with the bound as
    /// `ctx.limit_value`.
    pub fn beyond(bound: Bound) -> Invalid {
        const MIN_LENGTH: &str = "value_error.any_str.min_length";
        const MAX_LENGTH: &str = "value_error.any_str.max_length";
        const NOT_GE: &str = "value_error.number.not_ge";
        const NOT_LE: &str = "value_error.number.not_le";
        let (rule, kind, limit) = match bound {
            Bound::MinChars(n) => (format!("has at least {n} characters"), MIN_LENGTH, json!(n)),
            Bound::MaxChars(n) => (format!("has at most {n} characters"), MAX_LENGTH, json!(n)),
            Bound::MaxBytes(n) => (format!("has at most {n} bytes"), MAX_LENGTH, json!(n)),
            Bound::Min(n) => (format!("is greater than or equal to {n}"), NOT_GE, json!(n)),
            Bound::Max(n) => (format!("is less than or equal to {n}"), NOT_LE, json!(n)),
        };
        Invalid::new(format!("ensure this value {rule}"), kind)
            .with_ctx(json!({ "limit_value": limit }))
    }

    /// `ensure this value has at least {min} characters`.
    pub fn too_short(min: usize) -> Invalid {
        Invalid::beyond(Bound::MinChars(min))
    }

    /// `ensure this value has at most {max} characters`.
    pub fn too_long(max: usize) -> Invalid {
        Invalid::beyond(Bound::MaxChars(max))
    }

    /// `value is not a valid integer`.
    pub fn not_an_integer() -> Invalid {
        Invalid::new("value is not a valid integer", "type_error.integer")
    }

    /// A text holding a NUL character (PostgreSQL cannot store one).
    pub fn nul() -> Invalid {
        Invalid::new("string contains a NUL character", "value_error.str.nul")
    }

    /// The refusal as a 422 entry at `loc`.
    pub fn at(self, loc: Vec<Value>) -> FieldError {
        FieldError {
            loc,
            msg: self.msg,
            kind: self.kind.to_owned(),
            ctx: self.ctx,
        }
    }
}

/// A limit a value must keep (pydantic v1's `min_length`, `max_length`, `ge`, `le`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// At least this many characters (Unicode code points).
    MinChars(usize),
    /// At most this many characters.
    MaxChars(usize),
    /// At most this many bytes of UTF-8 (bcrypt's limit, for one).
    MaxBytes(usize),
    /// An integer at least this.
    Min(i64),
    /// An integer at most this.
    Max(i64),
}

/// A text of `min..=max` characters (Unicode code points), or the bound it passes.
pub fn check_length(text: &str, min: usize, max: usize) -> Result<(), Invalid> {
    let n = text.chars().count();
    let passed = (n < min)
        .then_some(Bound::MinChars(min))
        .or((n > max).then_some(Bound::MaxChars(max)));
    passed.map_or(Ok(()), |bound| Err(Invalid::beyond(bound)))
}

/// An integer within `min..=max`, or the bound it passes.
pub fn check_range(value: i64, min: i64, max: i64) -> Result<(), Invalid> {
    let passed = (value < min)
        .then_some(Bound::Min(min))
        .or((value > max).then_some(Bound::Max(max)));
    passed.map_or(Ok(()), |bound| Err(Invalid::beyond(bound)))
}

/// A [`super::Fields::parse`] rule: the text must not be empty (a form's empty value already
/// reads as absent; this refuses `""` in JSON the same way the OpenAPI `minLength: 1` says).
pub fn non_empty(text: String) -> Result<String, Invalid> {
    check_length(&text, 1, usize::MAX)?;
    Ok(text)
}

/// The end of a validation: nothing, or every recorded error as one 422.
pub(super) fn reported(errors: Vec<FieldError>) -> Result<(), ApiError> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(errors))
    }
}
