//! Secrets an administrator hands out: generated passwords, password hashes, API tokens and
//! shared-link tokens. Only hashes are stored; the secrets are shown once.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use obscura_store::meta::{ApiToken, Share, TokenScope};
use sha2::{Digest, Sha256};

/// Generated passwords: 16 characters from an alphabet without look-alikes (no 0/O, 1/l/I),
/// about 90 bits.
const PASSWORD_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
const GENERATED_PASSWORD_CHARS: usize = 16;

/// A new random password, as given to users the CLI or an admin creates.
pub fn random_password() -> String {
    (0..GENERATED_PASSWORD_CHARS)
        .map(|_| PASSWORD_ALPHABET[rand::random_range(0..PASSWORD_ALPHABET.len())] as char)
        .collect()
}

/// An argon2id hash of `password` with a random salt (slow on purpose: run it off the async
/// workers).
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>()).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))?
        .to_string())
}

/// Whether `password` matches an argon2 `hash`; a malformed hash matches nothing.
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// 32 random bytes in hex: session ids, CSRF tokens and shared-link tokens.
pub fn random_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// The SHA-256 of a long random secret in hex: enough for secrets nobody can guess, and
/// constant work to check on every request.
pub fn secret_digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Makes a new API token: the secret (to show once) and the record to store.
pub fn new_token(
    name: &str,
    scope: TokenScope,
    sites: Vec<u32>,
    now_ms: i64,
    expires_ms: Option<i64>,
) -> (String, ApiToken) {
    let secret = format!("obs_{}", hex::encode(rand::random::<[u8; 20]>()));
    let record = ApiToken {
        id: secret[..12].to_owned(),
        sha256: secret_digest(&secret),
        name: name.to_owned(),
        scope,
        sites,
        created_ms: now_ms,
        expires_ms,
    };
    (secret, record)
}

/// Makes a new shared link to `site`: the token (the link's secret part, shown once) and the
/// record to store. The link's id is random too: it says nothing about the token.
pub fn new_share(
    site: u32,
    password: Option<&str>,
    now_ms: i64,
    expires_ms: Option<i64>,
) -> anyhow::Result<(String, Share)> {
    let token = random_token();
    let share = Share {
        id: random_token()[..10].to_owned(),
        sha256: secret_digest(&token),
        site,
        password_hash: password.map(hash_password).transpose()?,
        expires_ms,
        created_ms: now_ms,
    };
    Ok((token, share))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_use_the_unambiguous_alphabet() {
        let a = random_password();
        assert_eq!(a.chars().count(), GENERATED_PASSWORD_CHARS);
        assert!(a.bytes().all(|b| PASSWORD_ALPHABET.contains(&b)), "{a}");
        assert_ne!(a, random_password());
    }

    #[test]
    fn accounts_passwords_hash_with_argon2id_and_verify() {
        let hash = hash_password("correct horse").expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password(&hash, "correct horse"));
        assert!(!verify_password(&hash, "wrong horse"));
        assert!(!verify_password("not a hash", "correct horse"));
    }

    #[test]
    fn tokens_and_links_store_only_digests() {
        let (secret, token) = new_token("ci", TokenScope::Read, vec![1], 0, None);
        assert!(secret.starts_with("obs_") && secret.starts_with(&token.id));
        assert_eq!(token.sha256, secret_digest(&secret));
        assert!(!token.sha256.contains(&secret[4..]));
        let (link, share) = new_share(1, None, 0, None).expect("share");
        assert_eq!(share.sha256, secret_digest(&link));
    }

    #[test]
    fn hardening_share_ids_tell_nothing_of_the_token() {
        let (token, share) = new_share(1, None, 0, None).expect("share");
        assert_eq!(share.id.len(), 10);
        assert!(!token.contains(&share.id), "the id is not a piece of the token");
    }
}
