//! The auth service's inputs, one type per request, each built once from the request's
//! fields ([`FromFields`]) out of validated parts (`Email`, `NewPassword`): once a handler
//! holds one, it is valid. The same types describe the bodies in the OpenAPI document.

use std::borrow::Cow;
use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};

use icu_normalizer::ComposingNormalizerBorrowed;
use serde_json::json;
use service_kit::input::{non_empty, Bound, Fields, FromFields, Invalid, Query};
use service_kit::ApiError;
use utoipa::{IntoParams, ToSchema};

use crate::hashing::MAX_PASSWORD_BYTES;

/// Shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// The longest email address there is (RFC 5321's path limit, in bytes).
pub const MAX_EMAIL_BYTES: usize = 254;

/// A syntactically valid email address, as the API shows it (the domain lower-cased, the
/// local part as given, as the course app stores it), and its [`email_key`], under which it
/// is unique and found at login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    address: String,
    key: String,
}

impl Email {
    pub fn parse(raw: String) -> Result<Email, Invalid> {
        let invalid = || Invalid::new("value is not a valid email address", "value_error.email");
        if raw.len() > MAX_EMAIL_BYTES {
            return Err(invalid());
        }
        let (local, domain) = raw.rsplit_once('@').ok_or_else(invalid)?;
        if !valid_local_part(local) || !valid_domain(domain) {
            return Err(invalid());
        }
        let address = format!("{local}@{}", domain.to_lowercase());
        Ok(Email {
            key: email_key(&address),
            address,
        })
    }

    /// The address as the API shows it.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The folded address the account is unique under.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Its [`email_skeleton`]: no two accounts made since the rule share one.
    pub fn skeleton(&self) -> String {
        email_skeleton(&self.key)
    }
}

/// The Unicode TR39 skeleton of an email key: what it looks like, with look-alikes from any
/// script mapped to one prototype (a Cyrillic `а` to the Latin `a`, `rn` and `m` to one form,
/// `l` and `1` and `I` to one), invisible characters dropped, then folded as [`email_key`]
/// folds. Two addresses with one skeleton can be mistaken for each other on screen.
pub fn email_skeleton(key: &str) -> String {
    let skeleton: String = unicode_security::skeleton(key).collect();
    email_key(&skeleton)
}

/// The key an email is unique and found under: NFKC, then lower case (then NFKC again, as
/// lower-casing can undo it), so compatibility twins are one address: a Kelvin sign (U+212A)
/// or full-width letters fold to the plain ASCII `k`, and `Bob@` to `bob@`. Look-alikes from
/// other scripts (a Cyrillic `о`) are other characters and other addresses, which sign-up
/// refuses by their [`email_skeleton`] instead.
pub fn email_key(address: &str) -> String {
    let nfkc = ComposingNormalizerBorrowed::new_nfkc();
    let lower = nfkc.normalize(address).to_lowercase();
    match nfkc.normalize(&lower) {
        Cow::Borrowed(_) => lower,
        Cow::Owned(normalized) => normalized,
    }
}

fn valid_local_part(local: &str) -> bool {
    const SPECIALS: &str = "!#$%&'*+/=?^_`{|}~-";
    (1..=64).contains(&local.len())
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || SPECIALS.contains(c))
}

fn valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.chars().count() >= 2 && !tld.chars().all(|c| c.is_ascii_digit()))
}

/// A password being set: at least 8 characters, at most 72 bytes (bcrypt's limit; longer
/// passwords are refused rather than silently truncated).
pub struct NewPassword(String);

impl NewPassword {
    pub fn parse(raw: String) -> Result<NewPassword, Invalid> {
        if raw.chars().count() < MIN_PASSWORD_CHARS {
            return Err(Invalid::too_short(MIN_PASSWORD_CHARS));
        }
        if raw.len() > MAX_PASSWORD_BYTES {
            return Err(Invalid::beyond(Bound::MaxBytes(MAX_PASSWORD_BYTES)));
        }
        if raw.chars().all(blank) {
            return Err(Invalid::new(
                "password must contain a character that is not whitespace, a combining mark \
                 or an invisible character",
                "value_error.password.blank",
            ));
        }
        Ok(NewPassword(raw))
    }

    /// With `PASSWORD_POLICY=strict`: refused when zxcvbn scores it below 3 (guessable within
    /// 10^8 tries), the user's email and its local part counted as known words.
    pub fn check_strength(&self, email: &str) -> Result<(), Invalid> {
        let local = email.rsplit_once('@').map_or(email, |(local, _)| local);
        let estimate = zxcvbn::zxcvbn(&self.0, &[email, local]);
        if u8::from(estimate.score()) >= MIN_STRICT_SCORE {
            return Ok(());
        }
        let why = estimate
            .feedback()
            .and_then(|f| f.warning())
            .map_or_else(String::new, |w| format!(": {w}"));
        Err(Invalid::new(
            format!("password is too easy to guess{why}"),
            "value_error.password.weak",
        )
        .with_ctx(json!({ "score": u8::from(estimate.score()), "min_score": MIN_STRICT_SCORE })))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// Least zxcvbn score (0..=4) `PASSWORD_POLICY=strict` accepts.
pub const MIN_STRICT_SCORE: u8 = 3;

/// A character that alone makes no password: white space, a mark (General_Category M: a
/// combining accent with nothing to sit on), a format or control character (zero-width
/// space, direction marks).
fn blank(c: char) -> bool {
    use icu_properties::props::{GeneralCategory, GeneralCategoryGroup};
    let category = icu_properties::CodePointMapData::<GeneralCategory>::new().get(c);
    c.is_whitespace()
        || GeneralCategoryGroup::Mark.contains(category)
        || matches!(category, GeneralCategory::Format | GeneralCategory::Control)
}

/// Sign-up body (`POST /users/`).
#[derive(ToSchema)]
#[schema(as = UserCreate)]
pub struct SignUp {
    /// A valid email address; one account per address, whatever its case or Unicode
    /// compatibility form (NFKC).
    #[schema(value_type = String, format = "email", max_length = 254)]
    pub email: Email,
    /// 8 characters to 72 bytes in UTF-8 (bcrypt's limit: 72 ASCII characters, fewer
    /// others), no NUL. JSON Schema counts characters, not bytes: the format names the rule.
    #[schema(value_type = String, min_length = 8, max_length = 72, format = "bcrypt-password")]
    pub password: NewPassword,
}

impl FromFields for SignUp {
    fn from_fields(fields: &mut Fields) -> Option<SignUp> {
        let email = fields.parse("email", Email::parse);
        let password = fields.parse("password", NewPassword::parse);
        Some(SignUp {
            email: email?,
            password: password?,
        })
    }
}

/// Password change body (`PUT /users/me/password`).
#[derive(ToSchema)]
#[schema(as = PasswordChange)]
pub struct PasswordChange {
    #[schema(min_length = 1, pattern = "^[^\\x00]*$")]
    pub current_password: String,
    /// 8 characters to 72 bytes in UTF-8 (bcrypt's limit: 72 ASCII characters, fewer
    /// others), no NUL. JSON Schema counts characters, not bytes: the format names the rule.
    #[schema(value_type = String, min_length = 8, max_length = 72, format = "bcrypt-password")]
    pub new_password: NewPassword,
}

impl FromFields for PasswordChange {
    fn from_fields(fields: &mut Fields) -> Option<PasswordChange> {
        let current_password = fields.parse("current_password", non_empty);
        let new_password = fields.parse("new_password", NewPassword::parse);
        // Judged here, before any hash is checked: a change to the same password changes
        // nothing and would only reset the caller's other sessions.
        if let (Some(current), Some(new)) = (&current_password, &new_password) {
            if *current == new.0 {
                fields.reject(
                    "new_password",
                    "new password must differ from the current one",
                    "value_error.password.unchanged",
                    None,
                );
                return None;
            }
        }
        Some(PasswordChange {
            current_password: current_password?,
            new_password: new_password?,
        })
    }
}

/// The OAuth 2 `grant_type` of a form, when present, must be exactly `expected`.
fn grant_type(fields: &mut Fields, expected: &str) -> Option<Option<String>> {
    match fields.optional_strict_string("grant_type")? {
        Some(given) if given != expected => {
            fields.reject(
                "grant_type",
                format!("string does not match regex \"{expected}\""),
                "value_error.str.regex",
                Some(json!({ "pattern": expected })),
            );
            None
        }
        given => Some(given),
    }
}

/// Login form (`POST /login`; `application/x-www-form-urlencoded` or `multipart/form-data`,
/// and a JSON object with the same fields works too). Empty form values count as absent.
#[derive(ToSchema)]
#[schema(as = LoginForm)]
pub struct LoginForm {
    /// The account's email.
    #[schema(min_length = 1, pattern = "^[^\\x00]*$")]
    pub username: String,
    #[schema(min_length = 1, pattern = "^[^\\x00]*$")]
    pub password: String,
    /// Optional; `password` when present.
    #[schema(pattern = "^password$", nullable = false)]
    pub grant_type: Option<String>,
}

impl FromFields for LoginForm {
    fn from_fields(fields: &mut Fields) -> Option<LoginForm> {
        let grant = grant_type(fields, "password");
        let username = fields.parse("username", non_empty);
        let password = fields.parse("password", non_empty);
        Some(LoginForm {
            grant_type: grant?,
            username: username?,
            password: password?,
        })
    }
}

/// Refresh form (`POST /token/refresh`; `application/x-www-form-urlencoded` or
/// `multipart/form-data`, and a JSON object with the same fields works too).
#[derive(ToSchema)]
#[schema(as = RefreshForm)]
pub struct RefreshForm {
    /// Optional; `refresh_token` when present (OAuth 2).
    #[schema(pattern = "^refresh_token$", nullable = false)]
    pub grant_type: Option<String>,
    #[schema(min_length = 1, pattern = "^[^\\x00]*$")]
    pub refresh_token: String,
}

impl FromFields for RefreshForm {
    fn from_fields(fields: &mut Fields) -> Option<RefreshForm> {
        let grant = grant_type(fields, "refresh_token");
        // An empty token in JSON is just a bad token: the same 401 as any other.
        let refresh_token = fields.strict_string("refresh_token");
        Some(RefreshForm {
            grant_type: grant?,
            refresh_token: refresh_token?,
        })
    }
}

/// Which sessions `POST /logout` ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum LogoutScope {
    /// The caller's session (the default).
    Session,
    /// Every session of the caller.
    All,
}

/// `POST /logout`'s query.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogoutQuery {
    /// `all` ends every session of the caller; `session` (the default) only this one.
    #[param(inline)]
    pub scope: Option<LogoutScope>,
}

impl LogoutQuery {
    pub fn parse(query_string: &str) -> Result<LogoutQuery, ApiError> {
        let mut query = Query::parse(query_string);
        let scope = query.string("scope");
        query.finish()?;
        let scope = match scope.as_str() {
            "" | "session" => LogoutScope::Session,
            "all" => LogoutScope::All,
            _ => {
                return Err(ApiError::validation(service_kit::error::FieldError::new(
                    vec![json!("query"), json!("scope")],
                    "unexpected value; permitted: 'session', 'all'",
                    "value_error.const",
                )))
            }
        };
        Ok(LogoutQuery { scope: Some(scope) })
    }

    pub fn all(&self) -> bool {
        self.scope == Some(LogoutScope::All)
    }
}

/// As a handler's argument: the request's query, parsed (422 when it is not one).
impl FromRequest for LogoutQuery {
    type Error = ApiError;
    type Future = Ready<Result<LogoutQuery, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(LogoutQuery::parse(req.query_string()))
    }
}

/// Largest `since` of `GET /sessions/ended` (unix seconds).
pub const MAX_SINCE: i64 = i32::MAX as i64;

/// `GET /sessions/ended`'s query.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EndedSince {
    /// Unix seconds; only sessions ended at or after it (all when absent).
    #[param(minimum = 0, maximum = 2_147_483_647)]
    pub since: Option<i64>,
}

impl EndedSince {
    pub fn parse(query_string: &str) -> Result<EndedSince, ApiError> {
        let mut query = Query::parse(query_string);
        let since = query.optional_integer("since", 0, MAX_SINCE);
        query.finish()?;
        Ok(EndedSince { since })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Option<Email> {
        Email::parse(raw.to_owned()).ok()
    }

    #[test]
    fn domain_is_lower_cased_and_key_is_whole_address() {
        let e = parse("Bob@Example.COM").unwrap();
        assert_eq!(e.address(), "Bob@example.com");
        assert_eq!(e.key(), "bob@example.com");
    }

    #[test]
    fn compatibility_twins_share_a_key_and_look_alikes_do_not() {
        let ascii = email_key("kevin@example.com");
        assert_eq!(email_key("\u{212A}evin@example.com"), ascii);
        assert_eq!(email_key("\u{FF4B}\u{FF45}vin@example.com"), ascii);
        assert_eq!(email_key("KEVIN@EXAMPLE.COM"), ascii);
        assert_ne!(email_key("k\u{0435}vin@example.com"), ascii); // Cyrillic е
                                                                  // Composed and decomposed accents are one address too.
        assert_eq!(
            email_key("jose\u{0301}@example.com"),
            email_key("jos\u{e9}@example.com")
        );
    }

    #[test]
    fn malformed_addresses_are_refused() {
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@b",
            "a@@b.com",
            "a b@c.com",
            ".a@b.com",
            "a..b@c.com",
            "a@-b.com",
            "a@b-.com",
            "a@b.c",
            "a@b.123",
            "a@b..com",
        ] {
            assert!(parse(bad).is_none(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn ordinary_addresses_are_accepted() {
        for good in [
            "alice@example.com",
            "a.b+tag@sub.example.co.uk",
            "x_y@ex-ample.org",
            "josé@café.fr",
        ] {
            assert!(parse(good).is_some(), "{good:?} should be accepted");
        }
    }

    #[test]
    fn new_passwords_need_8_characters_and_at_most_72_bytes() {
        assert!(NewPassword::parse("1234567".into()).is_err());
        assert!(NewPassword::parse("ü".repeat(36)).is_ok());
        let e = NewPassword::parse("a".repeat(73)).err().unwrap();
        assert_eq!(e.msg, "ensure this value has at most 72 bytes");
    }
}
