//! Token verification cost: what the posts service spends per request checking a bearer
//! token. `cargo bench -p shared-claims --bench verify`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use shared_claims::testing::{
    claims_for_testing, encode_for_testing, encode_hs256_for_testing, test_key_set,
    test_signing_key, TEST_HS256_SECRET,
};
use shared_claims::{KeySet, Verifier, VerifyConfig};

fn config() -> VerifyConfig {
    VerifyConfig {
        issuer: shared_claims::DEFAULT_ISSUER.into(),
        audience: shared_claims::DEFAULT_AUDIENCE.into(),
        leeway_seconds: 0,
    }
}

fn verification(c: &mut Criterion) {
    let claims = claims_for_testing(42, "alice@example.com", 3600);
    let ed_token = encode_for_testing(&claims, &test_signing_key());
    let hs_token = encode_hs256_for_testing(&claims, TEST_HS256_SECRET);
    let ed_keys = test_key_set();
    let hs_keys = KeySet::hs256(TEST_HS256_SECRET).unwrap();
    let config = config();

    // The full check: header, key lookup, Ed25519 signature, claims.
    c.bench_function("verify EdDSA (signature checked)", |b| {
        b.iter(|| ed_keys.verify(black_box(&ed_token), &config).unwrap())
    });
    c.bench_function("verify HS256 (signature checked)", |b| {
        b.iter(|| hs_keys.verify(black_box(&hs_token), &config).unwrap())
    });
    // The bound: the Ed25519 signature check alone, on the same signed bytes.
    let (signed, signature) = ed_token.rsplit_once('.').unwrap();
    let signature =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, signature)
            .unwrap();
    let public = aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::ED25519,
        test_signing_key().public_key_bytes().to_vec(),
    );
    c.bench_function("Ed25519 signature alone (aws-lc)", |b| {
        b.iter(|| {
            public
                .verify(black_box(signed.as_bytes()), black_box(&signature))
                .unwrap()
        })
    });
    // What a service's Verifier costs for a token it has already accepted (the usual case:
    // clients send the same token until it expires).
    let verifier = Verifier::new(test_key_set(), config.clone());
    verifier.verify_now(&ed_token).unwrap();
    c.bench_function("Verifier, EdDSA token seen before", |b| {
        b.iter(|| verifier.verify_now(black_box(&ed_token)).unwrap())
    });
}

criterion_group!(benches, verification);
criterion_main!(benches);
