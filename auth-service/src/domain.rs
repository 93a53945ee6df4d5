//! Validated input types: once a handler holds one, it is valid.

use serde_json::json;
use service_kit::input::Fields;

use crate::hashing::MAX_PASSWORD_BYTES;

/// Shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// A syntactically valid email address: the domain lower-cased (as the course app stores it)
/// and a `key`, the whole address lower-cased, under which it is unique.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub address: String,
    pub key: String,
}

impl Email {
    pub fn parse(raw: &str) -> Option<Email> {
        if raw.len() > 254 {
            return None;
        }
        let (local, domain) = raw.rsplit_once('@')?;
        if !valid_local_part(local) || !valid_domain(domain) {
            return None;
        }
        let address = format!("{local}@{}", domain.to_lowercase());
        Some(Email {
            key: email_key(&address),
            address,
        })
    }
}

/// The key an email is unique and found under: the address lower-cased.
pub fn email_key(address: &str) -> String {
    address.to_lowercase()
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

/// Reads and checks the `email` field, recording the course's error when invalid.
pub fn email_field(fields: &mut Fields) -> Option<Email> {
    let raw = fields.string("email")?;
    let email = Email::parse(&raw);
    if email.is_none() {
        fields.reject(
            "email",
            "value is not a valid email address",
            "value_error.email",
            None,
        );
    }
    email
}

/// Reads and checks a new password: at least 8 characters, at most 72 bytes (bcrypt's limit;
/// longer passwords are refused rather than silently truncated).
pub fn new_password_field(fields: &mut Fields) -> Option<String> {
    new_password_field_named(fields, "password")
}

/// [`new_password_field`] for a field of another name (`new_password`).
pub fn new_password_field_named(fields: &mut Fields, name: &str) -> Option<String> {
    let password = fields.string(name)?;
    if !fields.check_length(name, &password, MIN_PASSWORD_CHARS, usize::MAX) {
        return None;
    }
    if password.len() > MAX_PASSWORD_BYTES {
        fields.reject(
            name,
            format!("ensure this value has at most {MAX_PASSWORD_BYTES} bytes"),
            "value_error.any_str.max_length",
            Some(json!({ "limit_value": MAX_PASSWORD_BYTES })),
        );
        return None;
    }
    Some(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_is_lower_cased_and_key_is_whole_address() {
        let e = Email::parse("Bob@Example.COM").unwrap();
        assert_eq!(e.address, "Bob@example.com");
        assert_eq!(e.key, "bob@example.com");
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
            assert!(Email::parse(bad).is_none(), "{bad:?} should be refused");
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
            assert!(Email::parse(good).is_some(), "{good:?} should be accepted");
        }
    }
}
