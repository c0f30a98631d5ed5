//! Bearer secrets: 256-bit random tokens, stored only as their sha-256.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// A new token (43 URL-safe characters) and the hash to store.
pub(crate) fn new_token() -> (String, Vec<u8>) {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_token(&token);
    (token, hash)
}

/// sha-256 of a presented token: plain sha-256 suffices for 256-bit random input (no
/// dictionary to attack) and keeps lookup by hash possible.
pub(crate) fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.trim().as_bytes()).to_vec()
}

/// A stable key for an account's address that does not reveal it (the first 128 bits of its
/// sha-256, in hex): rate-limit rows and the audit trail name unknown addresses by it.
pub(crate) fn address_key(normalized_email: &str) -> String {
    let digest = Sha256::digest(normalized_email.as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, hash_a) = new_token();
        let (b, _) = new_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), 32);
        assert_eq!(hash_a, hash_token(&a));
        assert_eq!(hash_a.len(), 32);
        assert_ne!(hash_a, a.as_bytes());
    }
}
