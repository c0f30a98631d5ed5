//! TOTP two-factor authentication (RFC 6238: SHA-1, 6 digits, 30 s, ±1 step) with backup
//! codes.
//!
//! - The secret (160 bits) is sealed with AES-256-GCM under a configured key (never the JWT
//!   key), with the user id as associated data so a sealed secret cannot be moved to
//!   another user's row; keys rotate by id.
//! - A time step is accepted at most once (RFC 6238 §5.2), enforced by one conditional
//!   UPDATE of `last_used_step`, so even concurrent requests cannot reuse a code.
//! - Five wrong codes in a row lock MFA for 15 minutes; attempts also count toward a durable
//!   per-user rate limit.
//! - Backup codes: 10 × 80-bit codes, shown once, stored as sha-256, single use.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use chrono::TimeDelta;
use tollbooth_db::{SessionRepo, TokenPurpose, TwoFactorRepo, User, UserRepo};
use totp_rs::{Algorithm, Builder, Totp};

use crate::audit::Change;
use crate::credentials::SignedIn;
use crate::error::{AuthError, Result};
use crate::headers::RequestInfo;
use crate::impersonation::refuse_impersonation;
use crate::limits::{Action, Key};
use crate::secret::hash_token;
use crate::service::Auth;
use crate::session::Session;

const BACKUP_CODES: usize = 10;
const MAX_FAILURES: i32 = 5;
const LOCK: TimeDelta = TimeDelta::minutes(15);
const NONCE_LEN: usize = 12;
/// RFC 4648 base32 without the padding, for backup codes people type.
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A 256-bit key that seals TOTP secrets at rest, with an id for rotation. `Debug` never
/// shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptionKey {
    id: String,
    key: [u8; 32],
}

impl EncryptionKey {
    /// Key `id` with 32 bytes of key material.
    pub fn new(id: impl Into<String>, key: [u8; 32]) -> Self {
        Self { id: id.into(), key }
    }

    /// A random key — for development only: enrolled secrets do not survive a restart.
    pub fn generate(id: impl Into<String>) -> Self {
        let mut key = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut key);
        Self::new(id, key)
    }

    fn aad(&self, user: &User) -> Vec<u8> {
        [user.id.as_bytes().as_slice(), self.id.as_bytes()].concat()
    }

    fn seal(&self, user: &User, secret: &[u8]) -> Result<Vec<u8>> {
        let cipher = Aes256Gcm::new_from_slice(&self.key).map_err(AuthError::internal)?;
        let mut nonce = [0u8; NONCE_LEN];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut nonce);
        let sealed = cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: secret,
                    aad: &self.aad(user),
                },
            )
            .map_err(|_| AuthError::internal("TOTP secret encryption failed"))?;
        Ok([nonce.as_slice(), &sealed].concat())
    }

    fn open(&self, user: &User, sealed: &[u8]) -> Result<Vec<u8>> {
        let cipher = Aes256Gcm::new_from_slice(&self.key).map_err(AuthError::internal)?;
        let (nonce, ciphertext) = sealed
            .split_first_chunk::<NONCE_LEN>()
            .ok_or_else(|| AuthError::internal("sealed TOTP secret too short"))?;
        cipher
            .decrypt(
                &Nonce::from(*nonce),
                Payload {
                    msg: ciphertext,
                    aad: &self.aad(user),
                },
            )
            .map_err(|_| {
                AuthError::internal("TOTP secret does not decrypt (wrong key or tampered row)")
            })
    }
}

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptionKey")
            .field("id", &self.id)
            .field("key", &"[redacted]")
            .finish()
    }
}

/// MFA settings.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct MfaConfig {
    /// Seals new secrets; then `previous_keys` are tried to open older ones.
    pub key: EncryptionKey,
    /// Retired keys still able to open secrets sealed with them.
    pub previous_keys: Vec<EncryptionKey>,
    /// The name authenticator apps show (`Acme`).
    pub issuer: String,
}

impl MfaConfig {
    /// MFA with secrets sealed under `key`, shown as `issuer` in authenticator apps.
    pub fn new(key: EncryptionKey, issuer: impl Into<String>) -> Self {
        Self {
            key,
            previous_keys: Vec::new(),
            issuer: issuer.into(),
        }
    }
}

/// A pending enrollment: show the QR code (or the secret) once, then confirm with a code.
#[derive(Clone)]
pub struct MfaEnrollment {
    /// The secret in base32, for manual entry.
    pub secret: String,
    /// `otpauth://totp/…` for authenticator apps.
    pub otpauth_uri: String,
    /// The same URI as a PNG QR code, base64-encoded.
    pub qr_png_base64: String,
}

impl fmt::Debug for MfaEnrollment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MfaEnrollment([redacted])")
    }
}

/// Single-use recovery codes, shown once.
#[derive(Clone, PartialEq, Eq)]
pub struct BackupCodes(pub Vec<String>);

impl fmt::Debug for BackupCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BackupCodes([{} redacted])", self.0.len())
    }
}

/// A user's MFA state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MfaStatus {
    /// MFA gates sign-in.
    pub enabled: bool,
    /// Unused backup codes.
    pub backup_codes_left: u64,
}

impl Auth {
    /// Starts (or restarts) enrollment: a new 160-bit secret, stored sealed and pending until
    /// [`mfa_confirm`](Self::mfa_confirm). Refused while MFA is enabled, and unless the
    /// session is fresh ([`require_fresh`](Self::require_fresh)): a stolen session must not
    /// put its own second factor in front of the owner.
    pub async fn mfa_enroll(&self, session: &Session) -> Result<MfaEnrollment> {
        let config = self.mfa_config()?;
        self.require_fresh(session)?;
        let db = &self.inner.db;
        if self.mfa_enabled(&session.user).await? {
            return Err(AuthError::MfaState {
                reason: "MFA is already enabled; disable it first",
            });
        }
        let mut secret = vec![0u8; 20];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut secret);
        let sealed = config.key.seal(&session.user, &secret)?;
        db.begin_two_factor(session.user.id, sealed, &config.key.id)
            .await?;
        let totp = totp(secret, &config.issuer, &session.user.email)?;
        Ok(MfaEnrollment {
            secret: totp.secret().to_base32(),
            otpauth_uri: totp.to_url().map_err(AuthError::internal)?,
            qr_png_base64: totp.to_qr_base64().map_err(AuthError::internal)?,
        })
    }

    /// Confirms a pending enrollment with a valid code (the session still fresh): MFA is on,
    /// every other session of the user is revoked, the backup codes are returned (shown
    /// once), and the owner is told by e-mail.
    pub async fn mfa_confirm(
        &self,
        session: &Session,
        code: &str,
        request: &RequestInfo<'_>,
    ) -> Result<BackupCodes> {
        self.require_fresh(session)?;
        let user = &session.user;
        let tf = self.inner.db.find_two_factor(user.id).await?;
        if tf.as_ref().is_none_or(|tf| tf.enabled_at.is_some()) {
            return Err(AuthError::MfaState {
                reason: "no pending MFA enrollment",
            });
        }
        self.check_code(user, code, false).await?;
        let tx = self.inner.db.begin().await?;
        tx.enable_two_factor(user.id, self.now()).await?;
        let codes = self.new_backup_codes(&tx, user).await?;
        tx.revoke_user_sessions(user.id, Some(session.id), self.now())
            .await?;
        self.security_change(&tx, user, Change::MfaEnabled, request)
            .await?;
        tx.commit().await?;
        self.inner.mail.committed();
        tracing::info!(user_id = %user.id, "MFA enabled; other sessions revoked");
        Ok(codes)
    }

    /// The second step of a sign-in: turns an [`MfaChallenge`](crate::MfaChallenge) and a
    /// valid TOTP or backup code into a session. The challenge is single-use and expires.
    pub async fn mfa_verify(
        &self,
        challenge: &str,
        code: &str,
        request: &RequestInfo<'_>,
    ) -> Result<SignedIn> {
        let db = &self.inner.db;
        let tokens = &self.inner.tokens;
        let row = tokens
            .peek(db, TokenPurpose::MfaChallenge, challenge)
            .await?
            .ok_or(AuthError::InvalidMfaCode)?;
        let user_id = row.user_id.ok_or(AuthError::InvalidMfaCode)?;
        let user = db
            .find_user(user_id)
            .await?
            .ok_or(AuthError::InvalidMfaCode)?;
        self.check_code(&user, code, true).await?;
        if tokens
            .consume(db, TokenPurpose::MfaChallenge, challenge)
            .await?
            .is_none()
        {
            return Err(AuthError::InvalidMfaCode); // used concurrently
        }
        let (session, cookie) = self.open_session(user, request, None, true).await?;
        tracing::info!(user_id = %session.user.id, session_id = %session.id, "signed in with MFA");
        Ok(SignedIn { session, cookie })
    }

    /// Turns MFA off (a current code is required: it re-verifies the session), revokes
    /// every other session, and tells the owner by e-mail.
    pub async fn mfa_disable(
        &self,
        session: &Session,
        code: &str,
        request: &RequestInfo<'_>,
    ) -> Result<()> {
        refuse_impersonation(session)?;
        let user = &session.user;
        self.require_enabled(user).await?;
        self.check_code(user, code, true).await?;
        let tx = self.inner.db.begin().await?;
        tx.delete_two_factor(user.id).await?;
        tx.revoke_user_sessions(user.id, Some(session.id), self.now())
            .await?;
        self.security_change(&tx, user, Change::MfaDisabled, request)
            .await?;
        tx.commit().await?;
        self.inner.mail.committed();
        tracing::info!(user_id = %user.id, "MFA disabled; other sessions revoked");
        Ok(())
    }

    /// Replaces every backup code (a current code is required) and tells the owner.
    pub async fn mfa_regenerate_backup_codes(
        &self,
        session: &Session,
        code: &str,
        request: &RequestInfo<'_>,
    ) -> Result<BackupCodes> {
        refuse_impersonation(session)?;
        let user = &session.user;
        self.require_enabled(user).await?;
        self.check_code(user, code, true).await?;
        let tx = self.inner.db.begin().await?;
        let codes = self.new_backup_codes(&tx, user).await?;
        self.security_change(&tx, user, Change::BackupCodesRegenerated, request)
            .await?;
        tx.commit().await?;
        self.inner.mail.committed();
        Ok(codes)
    }

    /// Whether MFA is on, and how many backup codes remain.
    pub async fn mfa_status(&self, session: &Session) -> Result<MfaStatus> {
        let enabled = self.mfa_enabled(&session.user).await?;
        let backup_codes_left = if enabled {
            self.inner.db.count_backup_codes(session.user.id).await?
        } else {
            0
        };
        Ok(MfaStatus {
            enabled,
            backup_codes_left,
        })
    }

    fn mfa_config(&self) -> Result<&MfaConfig> {
        self.inner.config.mfa.as_ref().ok_or(AuthError::MfaState {
            reason: "MFA is not configured",
        })
    }

    /// Whether the user's second factor is on (enrolled and confirmed).
    pub(crate) async fn mfa_enabled(&self, user: &User) -> Result<bool> {
        Ok(self
            .inner
            .db
            .find_two_factor(user.id)
            .await?
            .is_some_and(|tf| tf.enabled_at.is_some()))
    }

    async fn require_enabled(&self, user: &User) -> Result<()> {
        if self.mfa_enabled(user).await? {
            Ok(())
        } else {
            Err(AuthError::MfaState {
                reason: "MFA is not enabled",
            })
        }
    }

    /// Accepts a TOTP code (its time step once only) or, if `allow_backup`, an unused backup
    /// code. Failures count, lock, and rate-limit.
    pub(crate) async fn check_code(
        &self,
        user: &User,
        code: &str,
        allow_backup: bool,
    ) -> Result<()> {
        let config = self.mfa_config()?;
        let db = &self.inner.db;
        let now = self.now();
        let limiter = &self.inner.limiter;
        let key = Key::account(Action::Mfa, &user.id.to_string());
        limiter.hit(db, &key, limiter.limits().mfa_per_user).await?;
        let tf = db
            .find_two_factor(user.id)
            .await?
            .ok_or(AuthError::InvalidMfaCode)?;
        if let Some(until) = tf.locked_until.filter(|until| *until > now) {
            return Err(AuthError::RateLimited {
                retry_after: (until - now).to_std().unwrap_or_default(),
            });
        }
        let code = code.trim();
        let accepted = if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
            let key = std::iter::once(&config.key)
                .chain(&config.previous_keys)
                .find(|k| k.id == tf.key_id)
                .ok_or_else(|| {
                    AuthError::internal(format!("no key `{}` for a TOTP secret", tf.key_id))
                })?;
            let secret = key.open(user, &tf.secret_ciphertext)?;
            let time = u64::try_from(now.timestamp()).unwrap_or(0);
            match totp(secret, &config.issuer, &user.email)?.check(code, time) {
                Some(step) => {
                    db.accept_totp_step(user.id, i64::try_from(step).unwrap_or(i64::MAX))
                        .await?
                }
                None => false,
            }
        } else if allow_backup {
            let hash = hash_token(&normalize_backup_code(code));
            // Like an accepted TOTP step, a correct backup code ends the failure streak.
            db.consume_backup_code(user.id, &hash, now).await?
                && db.clear_two_factor_failures(user.id).await?
        } else {
            false
        };
        if accepted {
            return Ok(());
        }
        if let Some(failures) = db.record_two_factor_failure(user.id).await?
            && failures >= MAX_FAILURES
        {
            db.lock_two_factor(user.id, now + LOCK).await?;
        }
        Err(AuthError::InvalidMfaCode)
    }

    async fn new_backup_codes(&self, tx: &impl TwoFactorRepo, user: &User) -> Result<BackupCodes> {
        let codes: Vec<String> = (0..BACKUP_CODES).map(|_| backup_code()).collect();
        let hashes = codes
            .iter()
            .map(|c| hash_token(&normalize_backup_code(c)))
            .collect();
        tx.replace_backup_codes(user.id, hashes).await?;
        Ok(BackupCodes(codes))
    }
}

/// RFC 6238 parameters: SHA-1, 6 digits, 30 s steps, one step of skew each way.
fn totp(secret: Vec<u8>, issuer: &str, account: &str) -> Result<Totp> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret)
        .with_issuer(Some(issuer))
        .with_account_name(account)
        .build()
        .map_err(AuthError::internal)
}

/// `ABCD-EFGH-JKLM-NPQR`: 16 symbols of 32 = 80 bits.
fn backup_code() -> String {
    let mut bytes = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    let symbols: Vec<char> = bytes
        .iter()
        .map(|b| CODE_ALPHABET[usize::from(*b) % 32] as char)
        .collect();
    symbols
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// Case and dashes do not matter when typing a backup code.
fn normalize_backup_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 (secret "12345678901234567890"), last six digits of the
    /// eight-digit codes.
    #[test]
    fn rfc_6238_test_vectors() {
        let totp = totp(b"12345678901234567890".to_vec(), "Acme", "ada@example.com").unwrap();
        for (time, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ] {
            assert_eq!(totp.generate(time).to_string(), code, "T = {time}");
            // ±1 step, no more.
            assert!(totp.check(code, time).is_some());
            assert!(totp.check(code, time + 30).is_some());
            assert!(totp.check(code, time.saturating_sub(30)).is_some() || time < 30);
            assert!(totp.check(code, time + 90).is_none());
        }
    }

    #[test]
    fn backup_codes_are_80_bits_and_forgiving_to_type() {
        let code = backup_code();
        assert_eq!(code.len(), 19);
        assert_eq!(code.split('-').count(), 4);
        assert_eq!(
            normalize_backup_code(&code.to_lowercase().replace('-', " ")),
            code.replace('-', "")
        );
        assert_ne!(backup_code(), backup_code());
    }

    #[test]
    fn sealed_secrets_are_bound_to_user_and_key() {
        let key = EncryptionKey::new("k1", [7; 32]);
        let user = |email: &str| User {
            id: uuid::Uuid::now_v7(),
            email: email.to_owned(),
            email_verified_at: None,
            name: None,
            image: None,
            role: "user".to_owned(),
            stripe_customer_id: None,
            banned_at: None,
            ban_reason: None,
            ban_expires_at: None,
            created_at: tollbooth_db::now(),
            updated_at: tollbooth_db::now(),
        };
        let (ada, bob) = (user("ada@example.com"), user("bob@example.com"));
        let sealed = key.seal(&ada, b"secret-bytes-12345678").unwrap();
        assert!(
            !sealed.windows(6).any(|w| w == b"secret"),
            "ciphertext, not plaintext"
        );
        assert_eq!(key.open(&ada, &sealed).unwrap(), b"secret-bytes-12345678");
        assert!(
            key.open(&bob, &sealed).is_err(),
            "moved to another user's row"
        );
        assert!(
            EncryptionKey::new("k1", [8; 32])
                .open(&ada, &sealed)
                .is_err(),
            "wrong key"
        );
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(key.open(&ada, &tampered).is_err());
        assert!(!format!("{key:?}").contains('7'));
    }
}
