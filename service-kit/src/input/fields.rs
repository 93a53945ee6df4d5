//! Field-by-field validation of a body: [`Fields`] reads each field of a JSON object or form
//! strictly, recording every refusal, and a [`FromFields`] type is built from them in one
//! place, so that one 422 reports all failing fields.

use serde_json::{json, Map, Value};

use super::invalid::{reported, Invalid};
use crate::error::{ApiError, FieldError};

/// A request input type (a body's fields, each its own validated type), built in one place
/// from the fields of a JSON object or form: it reads every field, so that all failures are
/// reported together, and returns `None` when any failed (each failure is recorded in
/// `fields`). Handlers get one with [`super::Body::json`] or [`super::Body::json_or_form`].
pub trait FromFields: Sized {
    fn from_fields(fields: &mut Fields) -> Option<Self>;
}

/// The fields of a JSON object or form, read one by one. Each accessor records a
/// [`FieldError`] instead of failing, so [`Fields::finish`] reports all of them together.
pub struct Fields {
    pub(super) map: Map<String, Value>,
    location: &'static str,
    errors: Vec<FieldError>,
    /// Names the body gave more than once: reading one is a 422 naming it. A repeated name
    /// the type never reads is ignored, as unknown fields are.
    duplicates: Vec<String>,
}

impl Fields {
    pub fn new(map: Map<String, Value>) -> Fields {
        Fields::with_duplicates(map, Vec::new())
    }

    /// The fields of a body that gave the names in `duplicates` more than once (`map` holds
    /// the first value of each).
    pub(super) fn with_duplicates(map: Map<String, Value>, duplicates: Vec<String>) -> Fields {
        Fields {
            map,
            location: "body",
            errors: Vec::new(),
            duplicates,
        }
    }

    /// Fields from a form: every value is a string; an empty value counts as absent (as
    /// FastAPI's form fields do). A field read that was given more than once (empty or not)
    /// is a 422 naming it ([`duplicate_field`]): which of the values counts would otherwise
    /// be an accident of the parser.
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Result<Fields, ApiError> {
        let mut map = Map::new();
        let mut seen = std::collections::HashSet::new();
        let mut duplicates = Vec::new();
        for (k, v) in pairs {
            if !seen.insert(k.clone()) {
                if !duplicates.contains(&k) {
                    duplicates.push(k);
                }
                continue;
            }
            if !v.is_empty() {
                map.insert(k, Value::String(v));
            }
        }
        Ok(Fields::with_duplicates(map, duplicates))
    }

    fn loc(&self, field: &str) -> Vec<Value> {
        vec![json!(self.location), json!(field)]
    }

    /// Records an error for `field`.
    pub fn reject(&mut self, field: &str, msg: impl Into<String>, kind: &str, ctx: Option<Value>) {
        let mut e = FieldError::new(self.loc(field), msg, kind);
        e.ctx = ctx;
        self.errors.push(e);
    }

    /// Records `invalid` as the refusal of `field`.
    fn refuse(&mut self, field: &str, invalid: Invalid) {
        let e = invalid.at(self.loc(field));
        self.errors.push(e);
    }

    fn take(&mut self, field: &str, required: bool) -> Option<Value> {
        if let Some(i) = self.duplicates.iter().position(|d| d == field) {
            self.duplicates.remove(i);
            self.map.remove(field);
            let mut e = duplicate_field(field);
            e.loc = self.loc(field);
            self.errors.push(e);
            return None;
        }
        match self.map.remove(field) {
            None if required => {
                self.errors.push(FieldError::missing(self.loc(field)));
                None
            }
            None => None,
            Some(Value::Null) => {
                self.reject(
                    field,
                    "none is not an allowed value",
                    "type_error.none.not_allowed",
                    None,
                );
                None
            }
            Some(v) => Some(v),
        }
    }

    /// A required string, strictly: a number, boolean, list or object is refused with
    /// pydantic's `str type expected` (a number is not a string). NUL characters are refused.
    pub fn strict_string(&mut self, field: &str) -> Option<String> {
        match self.take(field, true)? {
            Value::String(s) if s.contains('\0') => {
                self.refuse(field, Invalid::nul());
                None
            }
            Value::String(s) => Some(s),
            _ => {
                self.reject(field, "str type expected", "type_error.str", None);
                None
            }
        }
    }

    /// An optional [`strict_string`](Fields::strict_string): absent is `Some(None)`; `None`
    /// when the value is refused (`null` included: the field may be left out, not nulled).
    pub fn optional_strict_string(&mut self, field: &str) -> Option<Option<String>> {
        if !self.map.contains_key(field) && !self.duplicates.iter().any(|d| d == field) {
            return Some(None);
        }
        self.strict_string(field).map(Some)
    }

    /// A required field read strictly as `R` (a [`String`] or an [`i64`]), then turned into
    /// the field's own type by `parse`, whose refusal is recorded at this field.
    pub fn parse<R: Strict, T>(
        &mut self,
        field: &str,
        parse: impl FnOnce(R) -> Result<T, Invalid>,
    ) -> Option<T> {
        let raw = R::read(self, field)?;
        self.parsed(field, parse(raw))
    }

    fn parsed<T>(&mut self, field: &str, parsed: Result<T, Invalid>) -> Option<T> {
        parsed.map_err(|invalid| self.refuse(field, invalid)).ok()
    }

    /// A required integer, strictly: a JSON number with no fractional part (`1.0` is one, as
    /// JSON Schema counts integers) within 64 bits; a boolean or a string is refused (`true`
    /// is not 1).
    pub fn strict_integer(&mut self, field: &str) -> Option<i64> {
        let parsed = match self.take(field, true)? {
            Value::Number(n) => n.as_i64().or_else(|| n.as_f64().and_then(integral)),
            _ => None,
        };
        self.parsed(field, parsed.ok_or_else(Invalid::not_an_integer))
    }

    /// An optional boolean with a default, strictly: only `true` and `false` (`"yes"` and `1`
    /// are refused); `null` is refused too (the field may be left out, not nulled).
    pub fn strict_boolean_or(&mut self, field: &str, default: bool) -> Option<bool> {
        if !self.map.contains_key(field) && !self.duplicates.iter().any(|d| d == field) {
            return Some(default);
        }
        let parsed = self.take(field, false)?.as_bool();
        self.parsed(
            field,
            parsed.ok_or_else(|| {
                Invalid::new("value could not be parsed to a boolean", "type_error.bool")
            }),
        )
    }

    /// Builds the input type `T` from these fields: the value, or one 422 listing every
    /// failing field.
    pub fn into_input<T: FromFields>(mut self) -> Result<T, ApiError> {
        let value = T::from_fields(&mut self);
        self.finish_with(value)
    }

    /// Ends validation with the value built: the value when no field failed, otherwise all
    /// recorded errors as one 422.
    pub fn finish_with<T>(self, value: Option<T>) -> Result<T, ApiError> {
        debug_assert!(
            value.is_some() || !self.errors.is_empty(),
            "a field failed without an error"
        );
        self.finish()?;
        value.ok_or(ApiError::Validation(Vec::new()))
    }

    /// Ends validation: all recorded errors become one 422.
    pub fn finish(self) -> Result<(), ApiError> {
        reported(self.errors)
    }
}

/// The 422 entry for a body field given more than once: `loc` `["body", name]`, `msg`
/// `field given more than once`, `type` `value_error.duplicate`.
pub fn duplicate_field(name: &str) -> FieldError {
    FieldError::new(
        vec![json!("body"), json!(name)],
        "field given more than once",
        "value_error.duplicate",
    )
}

/// What a field is read as, strictly, before [`Fields::parse`] gives it its own type.
pub trait Strict: Sized {
    fn read(fields: &mut Fields, field: &str) -> Option<Self>;
}

impl Strict for String {
    fn read(fields: &mut Fields, field: &str) -> Option<String> {
        fields.strict_string(field)
    }
}

impl Strict for i64 {
    fn read(fields: &mut Fields, field: &str) -> Option<i64> {
        fields.strict_integer(field)
    }
}

/// The 64-bit integer a float with no fractional part stands for.
fn integral(f: f64) -> Option<i64> {
    // i64::MIN is -2^63, exactly representable; 2^63 itself is one beyond i64::MAX.
    const TWO_TO_63: f64 = 9_223_372_036_854_775_808.0;
    (f.fract() == 0.0 && (-TWO_TO_63..TWO_TO_63).contains(&f)).then_some(f as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_float_is_an_integer_when_integral_and_within_64_bits() {
        assert_eq!(integral(-258_257.0), Some(-258_257));
        assert_eq!(integral(0.0), Some(0));
        assert_eq!(integral(-0.0), Some(0));
        assert_eq!(integral(i64::MIN as f64), Some(i64::MIN));
        // The largest float below 2^63.
        assert_eq!(
            integral(9_223_372_036_854_774_784.0),
            Some(9_223_372_036_854_774_784)
        );
        for refused in [
            0.5,
            -1.25,
            9_223_372_036_854_775_808.0,
            -1e19,
            f64::INFINITY,
            f64::NAN,
        ] {
            assert_eq!(integral(refused), None, "{refused}");
        }
    }

    #[test]
    fn strict_fields_refuse_other_types() {
        let mut f = Fields::new(
            serde_json::from_str(
                r#"{"s": 5, "i": true, "j": "7", "o": null, "k": 7, "f": 7.0, "h": 7.5,
                    "b": 1, "n": null, "t": false}"#,
            )
            .unwrap(),
        );
        assert_eq!(f.strict_string("s"), None);
        assert_eq!(f.strict_integer("i"), None);
        assert_eq!(f.strict_integer("j"), None);
        assert_eq!(f.optional_strict_string("o"), None);
        assert_eq!(f.optional_strict_string("absent"), Some(None));
        assert_eq!(f.strict_integer("k"), Some(7));
        assert_eq!(
            f.strict_integer("f"),
            Some(7),
            "7.0 is an integer to JSON Schema"
        );
        assert_eq!(f.strict_integer("h"), None);
        assert_eq!(f.strict_boolean_or("b", true), None);
        assert_eq!(f.strict_boolean_or("n", true), None);
        assert_eq!(f.strict_boolean_or("t", true), Some(false));
        assert_eq!(f.strict_boolean_or("absent", true), Some(true));
        let Err(ApiError::Validation(errors)) = f.finish() else {
            panic!("expected a 422")
        };
        let kinds: Vec<&str> = errors.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "type_error.str",
                "type_error.integer",
                "type_error.integer",
                "type_error.none.not_allowed",
                "type_error.integer",
                "type_error.bool",
                "type_error.none.not_allowed"
            ]
        );
        assert_eq!(errors[0].msg, "str type expected");
    }

    #[test]
    fn nul_characters_are_refused() {
        let mut f = Fields::new(serde_json::from_str(r#"{"t": "a\u0000b"}"#).unwrap());
        assert!(f.strict_string("t").is_none());
        assert!(f.finish().is_err());
        let mut q = super::super::Query::parse("search=a%00b");
        assert_eq!(q.string("search"), "");
        assert!(q.finish().is_err());
    }

    #[test]
    fn empty_form_values_count_as_absent() {
        let mut f = Fields::from_pairs(vec![("username".into(), String::new())]).unwrap();
        assert!(f.strict_string("username").is_none());
        let Err(ApiError::Validation(errors)) = f.finish() else {
            panic!("expected a 422")
        };
        assert_eq!(errors[0].kind, "value_error.missing");
    }
}
