//! Signing secrets: made once, shown once, kept encrypted with the server's secret key, and
//! used to sign each delivery (docs/events.md, "Signatures").

use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::XChaCha20Poly1305;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// The prefix of every signing secret, so a leaked one is recognisable in a scan.
pub const SECRET_PREFIX: &str = "whsec_";

/// A new signing secret: `whsec_` and 32 random bytes in hex.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{SECRET_PREFIX}{}", hex::encode(bytes))
}

/// `X-Threadgate-Signature`'s value: `t=<timestamp>,v1=<hex HMAC-SHA256(secret, "t.body")>`.
/// The key is the whole secret as printed (with its `whsec_` prefix), as bytes.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac(secret, timestamp, body))
    )
}

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    // HMAC takes a key of any length: `new_from_slice` cannot fail.
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m.finalize().into_bytes().to_vec()
}

/// The server's secret key, which encrypts the signing secrets stored in the database.
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the secret key must be 64 hexadecimal digits (32 bytes)")]
    Malformed,
    #[error("could not read the secret key file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("could not create the secret key file {path}: {source}")]
    Create {
        path: String,
        source: std::io::Error,
    },
    #[error("a stored signing secret could not be decrypted: it was stored with another secret key, or altered")]
    Decrypt,
}

impl SecretKey {
    pub fn parse(hex_key: &str) -> Result<SecretKey, KeyError> {
        let bytes = hex::decode(hex_key.trim()).map_err(|_| KeyError::Malformed)?;
        let arr: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Malformed)?;
        Ok(SecretKey(arr))
    }

    pub fn generate() -> SecretKey {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        SecretKey(bytes)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn read_file(path: &Path) -> Result<SecretKey, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        SecretKey::parse(&text)
    }

    /// Reads the key file, or creates it (mode 0600, a new random key) when it does not exist.
    pub fn read_or_create_file(path: &Path) -> Result<(SecretKey, bool), KeyError> {
        if path.exists() {
            return Ok((SecretKey::read_file(path)?, false));
        }
        let key = SecretKey::generate();
        let create = |source| KeyError::Create {
            path: path.display().to_string(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(create)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        use std::io::Write;
        let mut file = options.open(path).map_err(create)?;
        file.write_all(format!("{}\n", key.to_hex()).as_bytes())
            .map_err(create)?;
        Ok((key, true))
    }

    /// `base64(nonce ‖ ciphertext)` of `secret` (XChaCha20-Poly1305, a random 24-byte nonce).
    pub fn encrypt(&self, secret: &str) -> String {
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = cipher
            .encrypt(&nonce, secret.as_bytes())
            .unwrap_or_else(|_| unreachable!("encryption of a short secret cannot fail"));
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        STANDARD.encode(out)
    }

    pub fn decrypt(&self, stored: &str) -> Result<String, KeyError> {
        let bytes = STANDARD.decode(stored).map_err(|_| KeyError::Decrypt)?;
        if bytes.len() < 24 {
            return Err(KeyError::Decrypt);
        }
        let (nonce, sealed) = bytes.split_at(24);
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let plain = cipher
            .decrypt(nonce.into(), sealed)
            .map_err(|_| KeyError::Decrypt)?;
        String::from_utf8(plain).map_err(|_| KeyError::Decrypt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Computed independently with Python:
        // hmac.new(b"whsec_test", b"1700000000.{}", hashlib.sha256).hexdigest()
        assert_eq!(
            signature("whsec_test", 1_700_000_000, b"{}"),
            "t=1700000000,v1=35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91"
        );
    }

    #[test]
    fn secrets_round_trip_and_another_key_cannot_read_them() {
        let key = SecretKey::generate();
        let secret = new_secret();
        assert!(secret.starts_with(SECRET_PREFIX) && secret.len() == 6 + 64);
        let stored = key.encrypt(&secret);
        assert!(!stored.contains(&secret[6..]));
        assert_eq!(key.decrypt(&stored).unwrap(), secret);
        assert!(matches!(
            SecretKey::generate().decrypt(&stored),
            Err(KeyError::Decrypt)
        ));
        assert!(SecretKey::parse("abc").is_err());
        assert_eq!(SecretKey::parse(&key.to_hex()).unwrap().0, key.0);
    }
}
