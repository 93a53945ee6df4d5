//! Device cookies (OWASP's "device cookies" against account lockout): a client that has logged
//! in to an account gets a signed, `HttpOnly` cookie naming that account. A login carrying a
//! valid one for the account it names is counted against that device alone
//! (`DEVICE_MAX_FAILURES`), not against the account's lock, which only unknown clients trigger
//! and suffer: a stranger guessing passwords cannot lock the owner out of their own devices.
//!
//! The cookie is `auth_device_<user id>=<payload>.<tag>`: the payload, base64url, is the user
//! id, the expiry (unix seconds) and 16 random bytes naming the device; the tag is its
//! HMAC-SHA256 under a key derived from the signing key (or `JWT_SECRET`), which every replica
//! holds. A new signing key therefore makes earlier cookies unknown (their clients count as
//! unknown until their next successful login).

use aws_lc_rs::digest;
use aws_lc_rs::hmac;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{NaiveDateTime, TimeDelta};
use service_kit::ApiError;

/// The prefix of every device cookie's name.
pub const COOKIE_PREFIX: &str = "auth_device_";

const PAYLOAD_BYTES: usize = 8 + 8 + 16;

/// A device recognised by its cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub user_id: i64,
    /// The failure counter of this device (the random part of its cookie, hex).
    pub counter_key: String,
}

/// Issues and recognises device cookies.
pub struct DeviceCookies {
    key: hmac::Key,
    ttl: TimeDelta,
    secure: bool,
}

impl DeviceCookies {
    /// Cookies signed under a key derived from `secret` (the signing key's file, or the HS256
    /// secret), living `ttl`, `Secure` when `secure`.
    pub fn new(secret: &[u8], ttl: TimeDelta, secure: bool) -> DeviceCookies {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(b"auth-service device cookie v1\0");
        ctx.update(secret);
        DeviceCookies {
            key: hmac::Key::new(hmac::HMAC_SHA256, ctx.finish().as_ref()),
            ttl,
            secure,
        }
    }

    /// The `Set-Cookie` value of a new device cookie for `user_id`.
    pub fn issue(&self, user_id: i64, now: NaiveDateTime) -> Result<String, ApiError> {
        let mut payload = [0u8; PAYLOAD_BYTES];
        let expires = (now + self.ttl).and_utc().timestamp();
        payload[..8].copy_from_slice(&user_id.to_be_bytes());
        payload[8..16].copy_from_slice(&expires.to_be_bytes());
        aws_lc_rs::rand::fill(&mut payload[16..])
            .map_err(|_| ApiError::Internal("no randomness for a device cookie".into()))?;
        let tag = hmac::sign(&self.key, &payload);
        Ok(format!(
            "{COOKIE_PREFIX}{user_id}={}.{}; Max-Age={}; Path=/; HttpOnly; SameSite=Strict{}",
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(tag.as_ref()),
            self.ttl.num_seconds(),
            if self.secure { "; Secure" } else { "" }
        ))
    }

    /// The devices of the valid, unexpired device cookies in these `Cookie` header values.
    pub fn recognise<'a>(
        &self,
        cookie_headers: impl IntoIterator<Item = &'a str>,
        now: NaiveDateTime,
    ) -> Vec<Device> {
        cookie_headers
            .into_iter()
            .flat_map(|h| h.split(';'))
            .filter_map(|pair| {
                let (name, value) = pair.trim().split_once('=')?;
                let named: i64 = name.strip_prefix(COOKIE_PREFIX)?.parse().ok()?;
                let device = self.verify(value.trim_matches('"'), now)?;
                (device.user_id == named).then_some(device)
            })
            .collect()
    }

    fn verify(&self, value: &str, now: NaiveDateTime) -> Option<Device> {
        let (payload, tag) = value.split_once('.')?;
        let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        if payload.len() != PAYLOAD_BYTES {
            return None;
        }
        hmac::verify(&self.key, &payload, &tag).ok()?;
        let user_id = i64::from_be_bytes(payload[..8].try_into().ok()?);
        let expires = i64::from_be_bytes(payload[8..16].try_into().ok()?);
        if expires <= now.and_utc().timestamp() {
            return None;
        }
        let counter_key: String = payload[16..].iter().map(|b| format!("{b:02x}")).collect();
        Some(Device {
            user_id,
            counter_key: format!("device:{counter_key}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookies() -> DeviceCookies {
        DeviceCookies::new(b"secret", TimeDelta::days(90), true)
    }

    fn value_of(set_cookie: &str) -> &str {
        set_cookie.split(';').next().unwrap()
    }

    #[test]
    fn an_issued_cookie_is_recognised_until_it_expires_and_only_under_its_key() {
        let now = service_kit::time::now_utc();
        let set = cookies().issue(42, now).unwrap();
        assert!(
            set.contains("HttpOnly") && set.contains("Secure") && set.contains("SameSite=Strict")
        );
        let cookie = value_of(&set);
        let devices = cookies().recognise([cookie], now);
        assert_eq!(devices.len(), 1);
        assert_eq!(devices[0].user_id, 42);
        assert!(cookies()
            .recognise([cookie], now + TimeDelta::days(91))
            .is_empty());
        let other = DeviceCookies::new(b"other", TimeDelta::days(90), true);
        assert!(other.recognise([cookie], now).is_empty());
        // Renamed for another account, or tampered with: unknown.
        let renamed = cookie.replacen("auth_device_42", "auth_device_43", 1);
        assert!(cookies().recognise([renamed.as_str()], now).is_empty());
        let mut tampered = cookie.to_owned();
        tampered.insert(cookie.find('=').unwrap() + 1, 'A');
        assert!(cookies().recognise([tampered.as_str()], now).is_empty());
        // Among other cookies.
        let header = format!("a=b; {cookie}; c=d");
        assert_eq!(cookies().recognise([header.as_str()], now), devices);
    }
}
