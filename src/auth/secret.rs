//! Key generation, hashing and verification.
//!
//! A key is stored as an argon2id PHC string plus a 16-bit lookup bucket (4 hex digits of the
//! SHA-256 of the normalised key). The bucket only narrows which hashes to verify: 65 536
//! buckets say nothing useful about a 32-character key, and the verifier is argon2id.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::Rng;
use sha2::{Digest, Sha256};

use crate::config::Argon2Settings;

/// PrestaShop's generated keys: 32 characters, upper-case letters and digits.
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// A new random key.
pub fn generate() -> String {
    let mut rng = rand::rngs::OsRng;
    (0..32)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// PrestaShop compares keys with SQL equality under a `_ci` collation: case does not matter
/// (docs/compatibility.md W18). Hash and compare the upper-case form.
pub fn normalize(key: &str) -> String {
    key.to_ascii_uppercase()
}

/// The lookup bucket of a normalised key.
pub fn lookup_bucket(normalized: &str) -> String {
    let digest = Sha256::digest(normalized.as_bytes());
    hex::encode(&digest[..2])
}

/// argon2id with the given cost (the settings; OWASP's m=19 MiB, t=2, p=1 by default).
pub fn hash(normalized: &str, cost: &Argon2Settings) -> anyhow::Result<String> {
    let params = Params::new(
        cost.argon2_memory_kib,
        cost.argon2_iterations,
        cost.argon2_parallelism,
        None,
    )
    .map_err(|e| anyhow::anyhow!("invalid argon2 parameters: {e}"))?;
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(normalized.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("argon2 hashing failed: {e}"))?
        .to_string())
}

/// Whether `normalized` matches the stored PHC string. The parameters come from the PHC
/// string itself, so keys hashed under older settings keep working; the final comparison is
/// constant-time inside argon2.
pub fn verify(normalized: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(normalized.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Checks a key given on the command line: 32 characters of PrestaShop's Back Office alphabet
/// (`/^[a-zA-Z0-9@\#\?\-\_]+$/`).
pub fn is_well_formed(key: &str) -> bool {
    key.len() == 32
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"@#?-_".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_prestashop_shape() {
        let k = generate();
        assert!(is_well_formed(&k), "{k}");
        assert!(k.bytes().all(|b| ALPHABET.contains(&b)));
        assert_ne!(generate(), k);
    }

    #[test]
    fn a_hash_verifies_its_key_only() {
        let k = normalize(&generate());
        let h = hash(&k, &Argon2Settings::default()).unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(!h.contains(&k));
        assert!(verify(&k, &h));
        let mut other = k.clone();
        other.replace_range(31..32, if k.ends_with('A') { "B" } else { "A" });
        assert!(!verify(&other, &h));
        assert!(!verify(&k, "not a phc string"));
    }

    #[test]
    fn hashes_made_under_other_settings_still_verify() {
        let k = normalize(&generate());
        let cheap = Argon2Settings {
            argon2_memory_kib: 1024,
            argon2_iterations: 1,
            argon2_parallelism: 1,
        };
        let h = hash(&k, &cheap).unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{h}");
        assert!(verify(&k, &h));
        assert!(hash(
            &k,
            &Argon2Settings {
                argon2_memory_kib: 1,
                ..cheap
            }
        )
        .is_err());
    }

    #[test]
    fn case_does_not_change_the_bucket_after_normalising() {
        assert_eq!(
            lookup_bucket(&normalize("ucclLQ9N2ARSHWCXLT74KUKSSK34BFKX")),
            lookup_bucket("UCCLLQ9N2ARSHWCXLT74KUKSSK34BFKX")
        );
        assert_eq!(lookup_bucket("X").len(), 4);
    }
}
