//! Ed25519 key material: generation, PEM (PKCS#8 / SPKI) encoding, JWK export and
//! RFC 7638 key ids.

use std::fmt;
use std::io::Write;
use std::path::Path;

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, Jwk, KeyAlgorithm,
    OctetKeyPairParameters, OctetKeyPairType, PublicKeyUse,
};
use jsonwebtoken::EncodingKey;

use crate::MIN_SECRET_LEN;

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410); the 32-byte key follows.
/// Kept by hand on purpose: the structure is fixed, and no ASN.1 crate is in the graph for it.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// Errors loading, generating or using key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The PEM text could not be parsed.
    #[error("invalid PEM: {0}")]
    InvalidPem(String),
    /// The DER content is not a usable key.
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// An HS256 secret is shorter than [`MIN_SECRET_LEN`].
    #[error("HS256 secret is too short: it must be at least 32 bytes (got {len})")]
    SecretTooShort {
        /// Length of the rejected secret.
        len: usize,
    },
    /// A JWKS document could not be parsed.
    #[error("invalid JWKS: {0}")]
    InvalidJwks(String),
    /// Key generation failed.
    #[error("key generation failed")]
    Generation,
    /// Signing a token failed.
    #[error("signing failed: {0}")]
    Signing(String),
    /// Reading or writing a key file failed.
    #[error("key file I/O error: {0}")]
    Io(#[from] std::io::Error),
}

pub(crate) fn check_secret(secret: &[u8]) -> Result<(), KeyError> {
    if secret.len() < MIN_SECRET_LEN {
        return Err(KeyError::SecretTooShort { len: secret.len() });
    }
    Ok(())
}

/// Ed25519 signing key material.
#[derive(Clone)]
pub struct SigningKey {
    pkcs8_der: Vec<u8>,
    public: Vec<u8>,
    kid: String,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a fresh random Ed25519 key.
    pub fn generate() -> Result<Self, KeyError> {
        let pair = Ed25519KeyPair::generate().map_err(|_| KeyError::Generation)?;
        let der = pair.to_pkcs8v1().map_err(|_| KeyError::Generation)?;
        Self::from_pkcs8_der(der.as_ref())
    }

    /// Parses a PKCS#8 (v1 or v2) Ed25519 private key in PEM (`PRIVATE KEY`) form.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, KeyError> {
        let der = pem_decode(pem, "PRIVATE KEY")?;
        Self::from_pkcs8_der(&der)
    }

    /// Parses a PKCS#8 (v1 or v2) Ed25519 private key in DER form.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        let pair = Ed25519KeyPair::from_pkcs8(der)
            .map_err(|e| KeyError::InvalidKey(format!("not an Ed25519 PKCS#8 key: {e}")))?;
        // Normalise to PKCS#8 v1 (jsonwebtoken signs from this DER).
        let v1 = pair
            .to_pkcs8v1()
            .map_err(|_| KeyError::InvalidKey("cannot re-encode key".into()))?;
        let public = pair.public_key().as_ref().to_vec();
        let kid = ed25519_thumbprint(&public);
        Ok(Self {
            pkcs8_der: v1.as_ref().to_vec(),
            public,
            kid,
        })
    }

    /// The private key as PKCS#8 v1 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub fn to_pkcs8_pem(&self) -> String {
        pem_encode("PRIVATE KEY", &self.pkcs8_der)
    }

    /// The public key as an OKP/Ed25519 JWK (`kid`, `alg: EdDSA`, `use: sig`).
    pub fn public_jwk(&self) -> Jwk {
        ed25519_jwk(&self.public, &self.kid)
    }

    /// The public key as SPKI PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn public_key_pem(&self) -> String {
        let mut der = ED25519_SPKI_PREFIX.to_vec();
        der.extend_from_slice(&self.public);
        pem_encode("PUBLIC KEY", &der)
    }

    /// The key id: RFC 7638 SHA-256 thumbprint of the public JWK.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Raw 32-byte public key.
    pub fn public_key_bytes(&self) -> &[u8] {
        &self.public
    }

    pub(crate) fn encoding_key(&self) -> EncodingKey {
        EncodingKey::from_ed_der(&self.pkcs8_der)
    }
}

/// RFC 7638 SHA-256 thumbprint (base64url, no padding) of an Ed25519 public key.
pub(crate) fn ed25519_thumbprint(public: &[u8]) -> String {
    let x = URL_SAFE_NO_PAD.encode(public);
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

pub(crate) fn ed25519_jwk(public: &[u8], kid: &str) -> Jwk {
    Jwk {
        common: CommonParameters {
            public_key_use: Some(PublicKeyUse::Signature),
            key_algorithm: Some(KeyAlgorithm::EdDSA),
            key_id: Some(kid.to_string()),
            ..Default::default()
        },
        algorithm: AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
            key_type: OctetKeyPairType::OctetKeyPair,
            curve: EllipticCurve::Ed25519,
            x: URL_SAFE_NO_PAD.encode(public),
        }),
    }
}

/// Extracts the raw 32-byte key from an Ed25519 SPKI PEM (`PUBLIC KEY`).
pub(crate) fn ed25519_public_from_pem(pem: &str) -> Result<Vec<u8>, KeyError> {
    let der = pem_decode(pem, "PUBLIC KEY")?;
    match der.strip_prefix(&ED25519_SPKI_PREFIX[..]) {
        Some(key) if key.len() == 32 => Ok(key.to_vec()),
        _ => Err(KeyError::InvalidKey(
            "not an Ed25519 SubjectPublicKeyInfo".into(),
        )),
    }
}

/// The public JWK of a key file to publish: an Ed25519 private key (PKCS#8 PEM) or public
/// key (SPKI PEM); its `kid` is the RFC 7638 thumbprint either way.
pub fn published_jwk_from_pem(text: &str) -> Result<Jwk, KeyError> {
    let block = pem::parse(text).map_err(|e| KeyError::InvalidPem(e.to_string()))?;
    if block.tag() == "PRIVATE KEY" {
        return Ok(SigningKey::from_pkcs8_der(block.contents())?.public_jwk());
    }
    let public = ed25519_public_from_pem(text)?;
    Ok(ed25519_jwk(&public, &ed25519_thumbprint(&public)))
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    pem::encode_config(&pem::Pem::new(label, der), config)
}

/// The DER content of the first PEM block of `text`, which must be labelled `label`.
fn pem_decode(text: &str, label: &str) -> Result<Vec<u8>, KeyError> {
    let block = pem::parse(text).map_err(|e| KeyError::InvalidPem(e.to_string()))?;
    if block.tag() != label {
        return Err(KeyError::InvalidPem(format!(
            "expected a `{label}` block, found `{}`",
            block.tag()
        )));
    }
    if block.contents().is_empty() {
        return Err(KeyError::InvalidPem("empty body".into()));
    }
    Ok(block.into_contents())
}

/// Reads the Ed25519 private key (PKCS#8 PEM) at `path`; a missing file is an error
/// ([`std::io::ErrorKind::NotFound`]), never a reason to generate one.
pub fn load_signing_key(path: &Path) -> Result<SigningKey, KeyError> {
    SigningKey::from_pkcs8_pem(&std::fs::read_to_string(path)?)
}

/// Loads the PEM key at `path`, or generates one there (creating parent dirs,
/// file mode 0600 on unix, written to a temp file then linked into place) when
/// the file does not exist. Returns `(key, generated)`.
pub fn load_or_generate_signing_key(path: &Path) -> Result<(SigningKey, bool), KeyError> {
    match std::fs::read_to_string(path) {
        Ok(pem) => return Ok((SigningKey::from_pkcs8_pem(&pem)?, false)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.into()),
    }

    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let key = SigningKey::generate()?;
    let file_name = path
        .file_name()
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "key path has no file name",
            )
        })?
        .to_string_lossy()
        .into_owned();
    let tmp = path.with_file_name(format!(
        ".{file_name}.{}.tmp",
        uuid::Uuid::new_v4().simple()
    ));

    let write = || -> std::io::Result<()> {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp)?;
        f.write_all(key.to_pkcs8_pem().as_bytes())?;
        f.sync_all()
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&tmp);
        return Err(e.into());
    }

    // hard_link fails if `path` appeared meanwhile (another process won the race):
    // then use the key that is already there.
    let linked = std::fs::hard_link(&tmp, path);
    let result = match linked {
        Ok(()) => Ok((key, true)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let pem = std::fs::read_to_string(path)?;
            Ok((SigningKey::from_pkcs8_pem(&pem)?, false))
        }
        // Filesystems without hard links: fall back to rename.
        Err(_) => std::fs::rename(&tmp, path)
            .map(|()| (key, true))
            .map_err(KeyError::from),
    };
    let _ = std::fs::remove_file(&tmp);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_pem_round_trip() {
        let key = SigningKey::generate().unwrap();
        assert_eq!(key.pkcs8_der.len(), 48, "PKCS#8 v1 Ed25519 DER is 48 bytes");
        let pem = key.to_pkcs8_pem();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        assert!(pem.trim_end().ends_with("-----END PRIVATE KEY-----"));
        let back = SigningKey::from_pkcs8_pem(&pem).unwrap();
        assert_eq!(back.kid(), key.kid());
        assert_eq!(back.public_key_bytes(), key.public_key_bytes());
        assert_eq!(back.to_pkcs8_pem(), pem);
    }

    #[test]
    fn public_key_pem_round_trip() {
        let key = SigningKey::generate().unwrap();
        let pem = key.public_key_pem();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert_eq!(
            ed25519_public_from_pem(&pem).unwrap(),
            key.public_key_bytes()
        );
    }

    #[test]
    fn bad_pem_is_rejected() {
        assert!(matches!(
            SigningKey::from_pkcs8_pem("nonsense"),
            Err(KeyError::InvalidPem(_))
        ));
        let garbage = pem_encode("PRIVATE KEY", b"not a key at all");
        assert!(matches!(
            SigningKey::from_pkcs8_pem(&garbage),
            Err(KeyError::InvalidKey(_))
        ));
    }

    #[test]
    fn pem_blocks_of_another_kind_are_refused_naming_both_labels() {
        let key = SigningKey::generate().unwrap();
        let public = key.public_key_pem();
        let err = SigningKey::from_pkcs8_pem(&public).unwrap_err().to_string();
        assert!(
            err.contains("expected a `PRIVATE KEY` block, found `PUBLIC KEY`"),
            "{err}"
        );
        let rsa = pem_encode("RSA PRIVATE KEY", b"anything");
        let err = SigningKey::from_pkcs8_pem(&rsa).unwrap_err().to_string();
        assert!(err.contains("`RSA PRIVATE KEY`"), "{err}");
        // Text around the block (a comment line, CRLF endings) is fine.
        let pem = format!("# the key\r\n{}", key.to_pkcs8_pem().replace('\n', "\r\n"));
        assert_eq!(SigningKey::from_pkcs8_pem(&pem).unwrap().kid(), key.kid());
    }

    #[test]
    fn load_signing_key_never_creates_a_missing_file() {
        let dir = tempfile_dir();
        let path = dir.join("missing.pem");
        match load_signing_key(&path) {
            Err(KeyError::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::NotFound),
            other => panic!("expected NotFound, got {other:?}"),
        }
        assert!(!path.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("shared-claims-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn kid_is_rfc7638_thumbprint() {
        let key = SigningKey::generate().unwrap();
        let x = URL_SAFE_NO_PAD.encode(key.public_key_bytes());
        let json = format!("{{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"{x}\"}}");
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, json.as_bytes());
        assert_eq!(key.kid(), URL_SAFE_NO_PAD.encode(d.as_ref()));
        // Agrees with jsonwebtoken's own thumbprint implementation too.
        let jwk = key.public_jwk();
        assert_eq!(
            jwk.thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
                .unwrap(),
            key.kid()
        );
        assert_eq!(jwk.common.key_id.as_deref(), Some(key.kid()));
        assert_eq!(jwk.common.key_algorithm, Some(KeyAlgorithm::EdDSA));
        assert_eq!(jwk.common.public_key_use, Some(PublicKeyUse::Signature));
    }

    #[test]
    fn published_keys_read_from_private_or_public_pem_have_the_same_jwk() {
        let key = SigningKey::generate().unwrap();
        let from_private = published_jwk_from_pem(&key.to_pkcs8_pem()).unwrap();
        let from_public = published_jwk_from_pem(&key.public_key_pem()).unwrap();
        assert_eq!(from_private, key.public_jwk());
        assert_eq!(from_public, key.public_jwk());
        assert!(published_jwk_from_pem("not a key").is_err());
    }

    #[test]
    fn secret_too_short_message() {
        let err = check_secret(&[0u8; 31]).unwrap_err();
        assert!(err.to_string().contains("at least 32 bytes"));
        assert!(check_secret(&[0u8; 32]).is_ok());
    }

    #[test]
    fn load_or_generate_creates_0600_file_and_reuses_it() {
        let dir = std::env::temp_dir().join(format!("shared-claims-test-{}", uuid::Uuid::new_v4()));
        let path = dir.join("nested").join("jwt_ed25519.pem");
        let (k1, generated1) = load_or_generate_signing_key(&path).unwrap();
        assert!(generated1);
        assert!(path.exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (k2, generated2) = load_or_generate_signing_key(&path).unwrap();
        assert!(!generated2);
        assert_eq!(k1.kid(), k2.kid());
        // No temp files left behind.
        let entries: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(entries.len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
