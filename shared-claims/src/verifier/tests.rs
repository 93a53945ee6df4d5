use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

use super::*;
use crate::testing::*;
use crate::{Alg, Issuer, JwkSet, KeyError, SigningKey, DEFAULT_AUDIENCE, DEFAULT_ISSUER};

fn config() -> VerifyConfig {
    VerifyConfig {
        issuer: DEFAULT_ISSUER.into(),
        audience: DEFAULT_AUDIENCE.into(),
        leeway_seconds: 0,
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn valid_claims() -> Value {
    serde_json::to_value(claims_for_testing(42, "a@example.com", 600)).unwrap()
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

fn without(mut v: Value, key: &str) -> Value {
    v.as_object_mut().unwrap().remove(key);
    v
}

/// The claims of a token, unchecked.
fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn ed_token(claims: &Value) -> String {
    encode_for_testing(claims, &test_signing_key())
}

fn verify_ed(token: &str) -> Result<Claims, VerifyError> {
    test_key_set().verify(token, &config())
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

/// HS256-signs with an arbitrary header (for algorithm-confusion tests).
fn hs256_with_header(header: &Value, claims: &Value, secret: &[u8]) -> String {
    let msg = format!("{}.{}", b64(header), b64(claims));
    let tag = aws_lc_rs::hmac::sign(
        &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret),
        msg.as_bytes(),
    );
    format!("{msg}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

#[test]
fn accepts_valid_token() {
    let claims = verify_ed(&ed_token(&valid_claims())).unwrap();
    assert_eq!(claims.user_id(), Some(42));
    assert_eq!(claims.email, "a@example.com");
}

#[test]
fn rejects_alg_none() {
    let header = b64(&json!({"alg": "none", "typ": "JWT"}));
    let token = format!("{header}.{}.", b64(&valid_claims()));
    assert!(verify_ed(&token).is_err());
    let hs = KeySet::hs256(TEST_HS256_SECRET).unwrap();
    assert!(hs.verify(&token, &config()).is_err());
}

#[test]
fn rejects_hs256_token_against_eddsa_set() {
    let token = encode_hs256_for_testing(&valid_claims(), TEST_HS256_SECRET);
    assert!(matches!(
        verify_ed(&token),
        Err(VerifyError::AlgorithmMismatch {
            expected: Alg::EdDSA,
            ..
        })
    ));
}

#[test]
fn rejects_eddsa_token_against_hs256_set() {
    let token = ed_token(&valid_claims());
    let hs = KeySet::hs256(TEST_HS256_SECRET).unwrap();
    assert!(matches!(
        hs.verify(&token, &config()),
        Err(VerifyError::AlgorithmMismatch {
            expected: Alg::HS256,
            ..
        })
    ));
}

#[test]
fn rejects_hs256_signed_with_public_key() {
    let key = test_signing_key();
    let header = json!({"alg": "HS256", "typ": "JWT", "kid": key.kid()});
    for secret in [
        key.public_key_bytes().to_vec(),
        key.public_key_pem().into_bytes(),
    ] {
        let token = hs256_with_header(&header, &valid_claims(), &secret);
        assert!(matches!(
            verify_ed(&token),
            Err(VerifyError::AlgorithmMismatch { .. })
        ));
    }
}

#[test]
fn rejects_tampered_payload() {
    let token = ed_token(&valid_claims());
    let parts: Vec<&str> = token.split('.').collect();
    let forged = b64(&with(valid_claims(), "sub", json!("1")));
    let tampered = format!("{}.{}.{}", parts[0], forged, parts[2]);
    assert!(matches!(verify_ed(&tampered), Err(VerifyError::Invalid(_))));
}

#[test]
fn rejects_signature_of_another_key_with_forged_kid() {
    let other = SigningKey::generate().unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some(test_signing_key().kid().to_string());
    let token = jsonwebtoken::encode(&header, &valid_claims(), &other.encoding_key()).unwrap();
    assert!(matches!(verify_ed(&token), Err(VerifyError::Invalid(_))));
}

#[test]
fn rejects_exp_equal_now() {
    // Retry if the second ticks between encoding and verification.
    for _ in 0..5 {
        let t = now();
        let token = ed_token(&with(valid_claims(), "exp", json!(t)));
        let result = verify_ed(&token);
        if now() == t {
            assert!(matches!(result, Err(VerifyError::Expired)));
            return;
        }
    }
    panic!("clock kept ticking");
}

/// Defines one test per row: a token with these claims is refused with this error.
macro_rules! refused_claims {
    ($($name:ident: $claims:expr => $error:pat),* $(,)?) => {$(
        #[test]
        fn $name() {
            let token = ed_token(&$claims);
            assert!(matches!(verify_ed(&token), Err($error)));
        }
    )*};
}

refused_claims! {
    rejects_exp_one_second_ago: with(valid_claims(), "exp", json!(now() - 1)) => VerifyError::Expired,
    rejects_exp_as_string: with(valid_claims(), "exp", json!("9999999999")) => VerifyError::Invalid(_),
    rejects_missing_exp: without(valid_claims(), "exp") => VerifyError::Invalid(_),
    rejects_nbf_in_future: with(valid_claims(), "nbf", json!(now() + 60)) => VerifyError::NotYetValid,
    rejects_wrong_iss: with(valid_claims(), "iss", json!("evil-service")) => VerifyError::Invalid(_),
    rejects_missing_iss: without(valid_claims(), "iss") => VerifyError::Invalid(_),
    rejects_wrong_aud: with(valid_claims(), "aud", json!("other-service")) => VerifyError::Invalid(_),
    rejects_missing_aud: without(valid_claims(), "aud") => VerifyError::Invalid(_),
    rejects_missing_sub: without(valid_claims(), "sub") => VerifyError::Invalid(_),
    rejects_non_numeric_sub: with(valid_claims(), "sub", json!("alice")) => VerifyError::Invalid(_),
}

#[test]
fn rejects_sub_that_is_not_a_positive_integer_in_canonical_form() {
    for sub in [
        "-1",
        "0",
        "+1",
        "01",
        "00",
        " 1",
        "1 ",
        "1.0",
        "1e3",
        "",
        "9223372036854775808",
    ] {
        let token = ed_token(&with(without(valid_claims(), "user_id"), "sub", json!(sub)));
        assert!(
            matches!(verify_ed(&token), Err(VerifyError::Invalid(_))),
            "sub {sub:?}"
        );
    }
    for (sub, id) in [("1", 1), ("10", 10), ("9223372036854775807", i64::MAX)] {
        let token = ed_token(&with(valid_claims(), "sub", json!(sub)));
        let token = ed_token(&with(claims_of(&token), "user_id", json!(id)));
        assert_eq!(
            verify_ed(&token).unwrap().user_id(),
            Some(id),
            "sub {sub:?}"
        );
    }
}

/// An EdDSA token signed with the test key, with this exact header JSON.
fn ed_token_with_raw_header(header: &Value, claims: &Value) -> String {
    encode_with_header_for_testing(header, claims, &test_signing_key())
}

#[test]
fn rejects_a_header_with_crit_whatever_it_lists() {
    let kid = test_signing_key().kid().to_string();
    // A correctly signed token with a critical extension the verifier does not understand.
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some(kid.clone());
    header.crit = Some(vec!["exp".into()]);
    let token =
        jsonwebtoken::encode(&header, &valid_claims(), &test_signing_key().encoding_key()).unwrap();
    assert!(matches!(verify_ed(&token), Err(VerifyError::Malformed(_))));
    for crit in [json!(["b64"]), json!([]), json!(null)] {
        let header = json!({ "alg": "EdDSA", "typ": "JWT", "kid": kid, "crit": crit });
        let token = ed_token_with_raw_header(&header, &valid_claims());
        assert!(
            matches!(verify_ed(&token), Err(VerifyError::Malformed(_))),
            "crit {crit}"
        );
    }
    // The same header without crit verifies: only crit is refused.
    let header = json!({ "alg": "EdDSA", "typ": "JWT", "kid": kid });
    assert!(verify_ed(&ed_token_with_raw_header(&header, &valid_claims())).is_ok());
}

#[test]
fn rejects_missing_other_claims() {
    for claim in ["email", "jti", "iat", "nbf"] {
        let token = ed_token(&without(valid_claims(), claim));
        assert!(
            matches!(verify_ed(&token), Err(VerifyError::Invalid(_))),
            "{claim}"
        );
    }
}

#[test]
fn rejects_unknown_kid() {
    let other = SigningKey::generate().unwrap();
    let token = encode_for_testing(&valid_claims(), &other);
    assert!(matches!(
        verify_ed(&token),
        Err(VerifyError::UnknownKid(Some(k))) if k == other.kid()
    ));
}

#[test]
fn rejects_missing_kid() {
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    let token =
        jsonwebtoken::encode(&header, &valid_claims(), &test_signing_key().encoding_key()).unwrap();
    assert!(matches!(
        verify_ed(&token),
        Err(VerifyError::UnknownKid(None))
    ));
}

#[test]
fn rejects_garbage() {
    for token in ["", "abc", "a.b.c", "a.b", "....", "x.y.z.w"] {
        assert!(verify_ed(token).is_err(), "{token:?}");
    }
}

#[test]
fn leeway_accepts_recently_expired() {
    let token = ed_token(&with(valid_claims(), "exp", json!(now() - 2)));
    let mut cfg = config();
    cfg.leeway_seconds = 5;
    assert!(test_key_set().verify(&token, &cfg).is_ok());
    cfg.leeway_seconds = 0;
    assert!(matches!(
        test_key_set().verify(&token, &cfg),
        Err(VerifyError::Expired)
    ));
}

#[test]
fn error_display_never_contains_token() {
    let token = ed_token(&with(valid_claims(), "aud", json!("other")));
    let err = verify_ed(&token).unwrap_err();
    let text = err.to_string();
    assert!(!text.contains(&token));
    for part in token.split('.') {
        assert!(!text.contains(part));
    }
}

#[test]
fn issuer_jwks_keyset_round_trip() {
    let key = SigningKey::generate().unwrap();
    let issuer = Issuer::ed25519(
        &key,
        DEFAULT_ISSUER,
        DEFAULT_AUDIENCE,
        Duration::from_secs(900),
    )
    .unwrap();
    assert_eq!(issuer.algorithm(), Alg::EdDSA);
    let token = issuer
        .issue(7, "u@example.com", Some("2024-01-01T00:00:00Z".into()))
        .unwrap();
    let json = serde_json::to_string(&issuer.jwks()).unwrap();
    let keys = KeySet::from_jwks_json(&json).unwrap();
    assert_eq!(keys.len(), 1);
    assert!(keys.contains(key.kid()));
    let claims = keys.verify(&token, &config()).unwrap();
    assert_eq!(claims.user_id(), Some(7));
    assert_eq!(claims.email, "u@example.com");
    assert_eq!(claims.exp - claims.iat, 900);
    assert_eq!(claims.iat, claims.nbf);
    assert_eq!(
        claims.user_created_at.as_deref(),
        Some("2024-01-01T00:00:00Z")
    );
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.kid.as_deref(), Some(key.kid()));
    assert_eq!(header.typ.as_deref(), Some("JWT"));

    // The SPKI PEM gives the same kid.
    let from_pem = KeySet::from_public_key_pem(&key.public_key_pem()).unwrap();
    assert!(from_pem.contains(key.kid()));
    assert!(from_pem.verify(&token, &config()).is_ok());
}

#[test]
fn hs256_issuer_keyset_round_trip() {
    let issuer = Issuer::hs256(
        TEST_HS256_SECRET,
        DEFAULT_ISSUER,
        DEFAULT_AUDIENCE,
        Duration::from_secs(60),
    )
    .unwrap();
    assert_eq!(issuer.algorithm(), Alg::HS256);
    assert!(issuer.jwks().keys.is_empty());
    let token = issuer.issue(9, "h@example.com", None).unwrap();
    let keys = KeySet::hs256(TEST_HS256_SECRET).unwrap();
    assert_eq!(keys.verify(&token, &config()).unwrap().user_id(), Some(9));
    let other = KeySet::hs256(&[b'x'; 32]).unwrap();
    assert!(matches!(
        other.verify(&token, &config()),
        Err(VerifyError::Invalid(_))
    ));
}

#[test]
fn hs256_refuses_short_secret() {
    let short = [b'a'; 31];
    let err = KeySet::hs256(&short).unwrap_err();
    assert!(err.to_string().contains("at least 32 bytes"));
    assert!(Issuer::hs256(&short, "i", "a", Duration::from_secs(1)).is_err());
    assert!(KeySet::hs256(&[b'a'; 32]).is_ok());
}

#[test]
fn from_jwks_skips_unusable_keys() {
    let key = test_signing_key();
    let good = serde_json::to_value(key.public_jwk()).unwrap();
    let no_kid = without(good.clone(), "kid");
    let oct = json!({"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"});
    let bad_x = with(
        with(good.clone(), "x", json!("AAAA")),
        "kid",
        json!("short"),
    );
    let jwks = json!({"keys": [good, no_kid, oct, bad_x]});
    let keys = KeySet::from_jwks_json(&jwks.to_string()).unwrap();
    assert_eq!(keys.len(), 1);
    assert!(keys.contains(key.kid()));
    assert!(!keys.contains("hmac"));
    assert!(matches!(
        KeySet::from_jwks_json("not json"),
        Err(KeyError::InvalidJwks(_))
    ));
}

/// A refresh that always fails (the auth service down), counting its calls.
fn failing_refresh(calls: Arc<AtomicUsize>) -> RefreshFn {
    Box::new(move || {
        calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Err("auth service down".into()) })
    })
}

fn counting_refresh(calls: Arc<AtomicUsize>, keys: KeySet) -> RefreshFn {
    Box::new(move || {
        let calls = Arc::clone(&calls);
        let keys = keys.clone();
        Box::pin(async move {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok(keys)
        })
    })
}

/// A verifier of the test key set whose refresh answers `keys` (after 20 ms), at most once
/// per `min_interval`, and the count of its refreshes.
fn refreshing_verifier(min_interval: Duration, keys: KeySet) -> (Verifier, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let verifier = Verifier::new(test_key_set(), config())
        .with_refresh(min_interval, counting_refresh(calls.clone(), keys));
    (verifier, calls)
}

/// Twenty verifications of `token` at once.
async fn burst(verifier: &Verifier, token: &str) -> Vec<Result<Claims, VerifyError>> {
    futures_util::future::join_all((0..20).map(|_| verifier.verify(token))).await
}

fn two_key_set(a: &SigningKey, b: &SigningKey) -> KeySet {
    KeySet::from_jwks(&JwkSet {
        keys: vec![a.public_jwk(), b.public_jwk()],
    })
    .unwrap()
}

/// A [`refreshing_verifier`] whose refresh adds a new key, and a token signed with that key.
fn verifier_learning_a_new_key() -> (Verifier, Arc<AtomicUsize>, String) {
    let new_key = SigningKey::generate().unwrap();
    let (verifier, calls) = refreshing_verifier(
        Duration::from_secs(60),
        two_key_set(&test_signing_key(), &new_key),
    );
    (
        verifier,
        calls,
        encode_for_testing(&valid_claims(), &new_key),
    )
}

#[tokio::test]
async fn refresh_picks_up_new_key() {
    let (verifier, calls, token) = verifier_learning_a_new_key();
    assert!(matches!(
        verifier.verify_now(&token),
        Err(VerifyError::UnknownKid(_))
    ));
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert!(verifier.verify(&token).await.is_ok());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(verifier.key_refreshes(), (1, 0), "one refresh, succeeded");
    verifier.record_key_refresh(false);
    assert_eq!(
        verifier.key_refreshes(),
        (2, 1),
        "a periodic fetch recorded"
    );
    // Old keys still work; no further refresh needed.
    assert!(verifier.verify(&ed_token(&valid_claims())).await.is_ok());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn concurrent_unknown_kid_refreshes_once() {
    // min_interval zero: only the single-flight check prevents extra fetches.
    let (verifier, calls) = refreshing_verifier(Duration::ZERO, test_key_set());
    let stranger = SigningKey::generate().unwrap();
    let token = encode_for_testing(&valid_claims(), &stranger);
    let results = burst(&verifier, &token).await;
    assert!(results
        .iter()
        .all(|r| matches!(r, Err(VerifyError::UnknownKid(_)))));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn second_burst_within_min_interval_does_not_refresh() {
    let (verifier, calls) = refreshing_verifier(Duration::from_secs(60), test_key_set());
    let stranger = SigningKey::generate().unwrap();
    let token = encode_for_testing(&valid_claims(), &stranger);
    for _ in 0..2 {
        let results = burst(&verifier, &token).await;
        assert!(results.iter().all(|r| r.is_err()));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn with_no_keys_and_a_failed_refresh_a_token_is_not_judged_then_judged_once_keys_arrive() {
    let verifier = Verifier::new(KeySet::empty(), config())
        .with_refresh(Duration::ZERO, failing_refresh(Arc::default()));
    let token = ed_token(&valid_claims());
    let err = verifier.verify(&token).await.unwrap_err();
    assert!(matches!(err, VerifyError::NoKeys), "{err}");
    assert_eq!(verifier.key_refreshes(), (1, 1), "the refresh was tried");
    // Keys loaded: the same verifier refuses a stranger's token as unknown, not unjudged.
    verifier.replace_keys(test_key_set());
    assert!(verifier.verify(&token).await.is_ok());
    let stranger = encode_for_testing(&valid_claims(), &SigningKey::generate().unwrap());
    let err = verifier.verify(&stranger).await.unwrap_err();
    assert!(matches!(err, VerifyError::UnknownKid(_)), "{err}");
    assert_eq!(err.not_ready(), None);
}

#[tokio::test]
async fn failed_refresh_keeps_old_keys() {
    let calls = Arc::new(AtomicUsize::new(0));
    let verifier = Verifier::new(test_key_set(), config())
        .with_refresh(Duration::from_secs(60), failing_refresh(calls.clone()));
    let stranger = SigningKey::generate().unwrap();
    let token = encode_for_testing(&valid_claims(), &stranger);
    assert!(verifier.verify(&token).await.is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(verifier.key_refreshes(), (1, 1), "one refresh, failed");
    assert!(verifier.has_keys());
    assert!(verifier.verify(&ed_token(&valid_claims())).await.is_ok());
}

#[tokio::test]
async fn verifier_without_refresh_and_replace_keys() {
    let verifier = Verifier::new(KeySet::empty(), config());
    assert!(!verifier.has_keys());
    let token = ed_token(&valid_claims());
    // With no key at all the token cannot be judged: not ready, rather than unknown.
    let err = verifier.verify(&token).await.unwrap_err();
    assert!(matches!(err, VerifyError::NoKeys), "{err}");
    assert_eq!(err.not_ready(), Some(crate::NotReady::Keys));
    assert!(matches!(
        verifier.verify("not-a-jwt").await,
        Err(VerifyError::Malformed(_))
    ));
    verifier.replace_keys(test_key_set());
    assert!(verifier.has_keys());
    assert!(verifier.verify(&token).await.is_ok());
    assert_eq!(verifier.config().issuer, DEFAULT_ISSUER);
}

#[tokio::test]
async fn an_empty_refreshed_key_set_keeps_the_old_keys() {
    let (verifier, calls) = refreshing_verifier(Duration::from_secs(60), KeySet::empty());
    let stranger = SigningKey::generate().unwrap();
    assert!(verifier
        .verify(&encode_for_testing(&valid_claims(), &stranger))
        .await
        .is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(verifier.verify(&ed_token(&valid_claims())).await.is_ok());
}

#[tokio::test]
async fn a_refresh_completes_even_when_the_request_that_started_it_goes_away() {
    let (verifier, calls, token) = verifier_learning_a_new_key();
    // The client disconnects while the fetch (20 ms) is under way: its future is dropped.
    let abandoned = tokio::time::timeout(Duration::from_millis(5), verifier.verify(&token)).await;
    assert!(abandoned.is_err(), "the request was abandoned mid-refresh");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(
        verifier.verify_now(&token).is_ok(),
        "the fetched keys were installed anyway"
    );
}

#[test]
fn a_remembered_token_still_expires_at_its_exp() {
    let verifier = Verifier::new(test_key_set(), config());
    let mut claims = valid_claims();
    claims["exp"] = serde_json::json!(chrono::Utc::now().timestamp() + 1);
    let token = ed_token(&claims);
    assert!(verifier.verify_now(&token).is_ok());
    assert!(verifier.verify_now(&token).is_ok(), "remembered");
    std::thread::sleep(Duration::from_millis(1100));
    assert!(matches!(
        verifier.verify_now(&token),
        Err(VerifyError::Expired)
    ));
}

#[test]
fn a_remembered_token_is_checked_again_after_the_keys_change() {
    let verifier = Verifier::new(test_key_set(), config());
    let token = ed_token(&valid_claims());
    assert!(verifier.verify_now(&token).is_ok());
    // The signing key is withdrawn: the token must fail even though it was accepted before.
    verifier.replace_keys(
        KeySet::from_jwks(&JwkSet {
            keys: vec![SigningKey::generate().unwrap().public_jwk()],
        })
        .unwrap(),
    );
    assert!(matches!(
        verifier.verify_now(&token),
        Err(VerifyError::UnknownKid(_))
    ));
}

#[test]
fn a_remembered_token_of_an_ended_session_is_refused() {
    let revocations = Arc::new(Revocations::new(0));
    let verifier =
        Verifier::new(test_key_set(), config()).with_revocations(Arc::clone(&revocations));
    let token = ed_token(&with(valid_claims(), "sid", json!("s1")));
    let other = ed_token(&with(valid_claims(), "sid", json!("s2")));
    // Not loaded yet: a token with a session cannot be checked, one without passes.
    assert!(matches!(
        verifier.verify_now(&token),
        Err(VerifyError::Session(_))
    ));
    assert!(verifier.verify_now(&ed_token(&valid_claims())).is_ok());
    revocations.merge([], now());
    assert_eq!(
        verifier.verify_now(&token).unwrap().sid.as_deref(),
        Some("s1")
    );
    // Remembered now; ending the session must still refuse it.
    revocations.merge([("s1".to_string(), now() + 600)], now());
    assert!(matches!(
        verifier.verify_now(&token),
        Err(VerifyError::Session(_))
    ));
    assert!(verifier.verify_now(&other).is_ok());
}

#[test]
fn key_sets_compare_by_their_key_ids() {
    let other = SigningKey::generate().unwrap();
    let both = KeySet::from_jwks(&jsonwebtoken::jwk::JwkSet {
        keys: vec![test_signing_key().public_jwk(), other.public_jwk()],
    })
    .unwrap();
    assert!(test_key_set().same_keys(&test_key_set()));
    assert!(!test_key_set().same_keys(&both));
    let verifier = Verifier::new(test_key_set(), config());
    assert!(
        !verifier.update_keys(test_key_set()),
        "same keys: nothing replaced"
    );
    assert!(verifier.update_keys(both));
    assert_eq!(verifier.keys().len(), 2);
}

#[test]
fn ready_once_it_holds_keys_and_the_ended_sessions_it_checks_have_loaded() {
    let verifier = Verifier::new(KeySet::empty(), config());
    assert!(!verifier.is_ready());
    assert!(verifier.ended_sessions_loaded(), "no list to load");
    verifier.replace_keys(test_key_set());
    assert!(verifier.is_ready());

    let revocations = Arc::new(crate::Revocations::new(0));
    let verifier = Verifier::new(test_key_set(), config()).with_revocations(revocations.clone());
    assert!(!verifier.ended_sessions_loaded());
    assert!(!verifier.is_ready());
    revocations.merge([], chrono::Utc::now().timestamp());
    assert!(verifier.is_ready());
}

#[test]
fn tokens_carry_user_id_beside_sub_and_tokens_without_it_still_verify() {
    let issuer = Issuer::hs256(
        TEST_HS256_SECRET,
        DEFAULT_ISSUER,
        DEFAULT_AUDIENCE,
        Duration::from_secs(60),
    )
    .unwrap();
    let token = issuer.issue(9, "h@example.com", None).unwrap();
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert_eq!(claims["user_id"], json!(9));
    assert_eq!(claims["sub"], json!("9"));
    let keys = KeySet::hs256(TEST_HS256_SECRET).unwrap();
    assert_eq!(
        keys.verify(&token, &config()).unwrap().course_user_id,
        Some(9)
    );

    // Issued before the claim existed (a key-rotation window's older tokens): accepted.
    let old = verify_ed(&ed_token(&without(valid_claims(), "user_id"))).unwrap();
    assert_eq!((old.user_id(), old.course_user_id), (Some(42), None));
    // A user_id naming someone else than sub is refused, whatever its spelling.
    for other in [json!(43), json!("42"), json!(null), json!(-42)] {
        let token = ed_token(&with(valid_claims(), "user_id", other.clone()));
        if other.is_null() {
            // null reads as absent.
            assert!(verify_ed(&token).is_ok());
            continue;
        }
        assert!(
            matches!(verify_ed(&token), Err(VerifyError::Invalid(_))),
            "user_id {other}"
        );
    }
}

#[test]
fn with_audience_none_tokens_are_issued_and_required_without_aud() {
    let no_aud = crate::audience_setting("none");
    assert_eq!(no_aud, "");
    assert_eq!(crate::audience_setting(" posts-service "), "posts-service");
    let issuer = Issuer::hs256(
        TEST_HS256_SECRET,
        DEFAULT_ISSUER,
        &no_aud,
        Duration::from_secs(60),
    )
    .unwrap();
    let token = issuer.issue(5, "c@example.com", None).unwrap();
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert!(claims.get("aud").is_none(), "{claims}");
    assert_eq!(claims["user_id"], json!(5));

    let keys = KeySet::hs256(TEST_HS256_SECRET).unwrap();
    let none = VerifyConfig {
        audience: no_aud,
        ..config()
    };
    assert_eq!(keys.verify(&token, &none).unwrap().user_id(), Some(5));
    // A verifier expecting an audience refuses it; one expecting none refuses a token with one.
    assert!(matches!(
        keys.verify(&token, &config()),
        Err(VerifyError::Invalid(_))
    ));
    let with_aud = Issuer::hs256(
        TEST_HS256_SECRET,
        DEFAULT_ISSUER,
        DEFAULT_AUDIENCE,
        Duration::from_secs(60),
    )
    .unwrap()
    .issue(5, "c@example.com", None)
    .unwrap();
    assert!(matches!(
        keys.verify(&with_aud, &none),
        Err(VerifyError::Invalid(_))
    ));
}
