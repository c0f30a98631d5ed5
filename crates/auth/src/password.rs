//! bcrypt hashing off the async runtime, behind a bounded queue, and the password policy.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{OnceCell, Semaphore};

use crate::config::PasswordPolicy;
use crate::error::{AuthError, Result};

/// bcrypt only reads the first 72 bytes of a password; longer ones are refused, never cut.
pub const MAX_PASSWORD_BYTES: usize = 72;

/// Runs bcrypt on tokio's blocking pool, at most `concurrency` at once, and refuses work
/// beyond `queue` waiting jobs ([`AuthError::Overloaded`]) so a sign-in storm can neither
/// starve the runtime nor queue without bound.
#[derive(Debug)]
pub(crate) struct PasswordHasher {
    cost: u32,
    permits: Arc<Semaphore>,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: usize,
    /// A hash of a random password, verified against when the account does not exist so an
    /// unknown e-mail costs the same time as a wrong password.
    dummy: OnceCell<String>,
}

/// One place in the queue: decrements the in-flight count however the job ends.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl PasswordHasher {
    pub(crate) fn new(cost: u32, concurrency: usize, queue: usize) -> Self {
        Self {
            cost,
            permits: Arc::new(Semaphore::new(concurrency)),
            in_flight: Arc::new(AtomicUsize::new(0)),
            max_in_flight: concurrency + queue,
            dummy: OnceCell::new(),
        }
    }

    /// Hashes `password` with the configured cost (`$2b$<cost>$…`). Up to 72 bytes: bcrypt
    /// reads the password with a NUL terminator and keeps 72 bytes, so a 72-byte password
    /// loses only its terminator — as in every other bcrypt. (bcrypt's
    /// `non_truncating_hash` counts the terminator and refuses 72 bytes; the length is
    /// checked here instead, so nothing is ever cut.)
    pub(crate) async fn hash(&self, password: &str) -> Result<String> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(AuthError::InvalidPassword {
                reason: format!("use at most {MAX_PASSWORD_BYTES} bytes"),
            });
        }
        let (password, cost) = (password.to_owned(), self.cost);
        self.run(move || bcrypt::hash(password, cost))
            .await?
            .map_err(AuthError::internal)
    }

    /// Whether `password` matches `hash`. A malformed stored hash is an internal error.
    pub(crate) async fn verify(&self, password: &str, hash: &str) -> Result<bool> {
        if password.len() > MAX_PASSWORD_BYTES {
            // No stored password can be this long; still spend the time.
            self.verify_dummy(password).await?;
            return Ok(false);
        }
        let (password, hash) = (password.to_owned(), hash.to_owned());
        self.run(move || bcrypt::verify(password, &hash))
            .await?
            .map_err(AuthError::internal)
    }

    /// Spends one verification's time against a throwaway hash. Fails as a real
    /// verification would ([`AuthError::Overloaded`] when the queue is full), so an unknown
    /// e-mail answers like a known one under load too.
    pub(crate) async fn verify_dummy(&self, password: &str) -> Result<()> {
        let dummy = self
            .dummy
            .get_or_try_init(|| async {
                let mut random = [0u8; 32];
                rand::RngCore::fill_bytes(&mut rand::rng(), &mut random);
                let cost = self.cost;
                self.run(move || bcrypt::hash(random, cost))
                    .await?
                    .map_err(AuthError::internal)
            })
            .await?;
        let (password, hash) = (truncate(password).to_owned(), dummy.clone());
        // The outcome is meaningless; only the time spent (and a full queue) count.
        let _ = self.run(move || bcrypt::verify(password, &hash)).await?;
        Ok(())
    }

    /// Whether `hash` was made with a lower cost than configured (rehash on next sign-in).
    pub(crate) fn needs_rehash(&self, hash: &str) -> bool {
        cost_of(hash).is_none_or(|cost| cost < self.cost)
    }

    async fn run<T: Send + 'static>(&self, job: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        if self.in_flight.fetch_add(1, Ordering::AcqRel) >= self.max_in_flight {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            return Err(AuthError::Overloaded);
        }
        let slot = Slot(self.in_flight.clone());
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(AuthError::internal)?;
        // The job holds its slot and permit until bcrypt returns, not until the caller
        // stops waiting: a client that disconnects mid-hash must not free a place for
        // another hash while its own still occupies a blocking thread.
        tokio::task::spawn_blocking(move || {
            let _held = (slot, permit);
            job()
        })
        .await
        .map_err(AuthError::internal)
    }
}

/// The cost field of a modular-crypt bcrypt hash (`$2b$12$…` → 12).
/// Passwords: the policy and the hasher together, so no new password is hashed without
/// passing the policy — with the account's own address and name as forbidden words.
#[derive(Debug)]
pub(crate) struct Passwords {
    policy: PasswordPolicy,
    hasher: PasswordHasher,
}

impl Passwords {
    pub(crate) fn new(policy: PasswordPolicy, hasher: PasswordHasher) -> Self {
        Self { policy, hasher }
    }

    /// Refuses a new password the policy does not admit for the account with this
    /// (normalized) address and name.
    pub(crate) fn check(&self, password: &str, email: &str, name: Option<&str>) -> Result<()> {
        let local_part = email.split('@').next().unwrap_or_default();
        let context = [email, local_part, name.unwrap_or_default()];
        check_policy(&self.policy, password, &context)
    }

    /// [`check`](Self::check), then hash: a new password for an existing account.
    pub(crate) async fn hash_new(
        &self,
        password: &str,
        email: &str,
        name: Option<&str>,
    ) -> Result<String> {
        self.check(password, email, name)?;
        self.hasher.hash(password).await
    }

    /// The hasher, for passwords already past the policy (at sign-up, after the address
    /// was found free) or already in use (a rehash at a higher cost).
    pub(crate) fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }
}

pub(crate) fn cost_of(hash: &str) -> Option<u32> {
    let mut parts = hash.split('$');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(""), Some("2a" | "2b" | "2x" | "2y"), Some(cost)) => cost.parse().ok(),
        _ => None,
    }
}

fn truncate(password: &str) -> &str {
    let mut end = password.len().min(MAX_PASSWORD_BYTES);
    while !password.is_char_boundary(end) {
        end -= 1;
    }
    &password[..end]
}

/// Checks `password` against `policy`; `context` holds words the password must not be built
/// from (the e-mail, the name, the product).
pub(crate) fn check_policy(
    policy: &PasswordPolicy,
    password: &str,
    context: &[&str],
) -> Result<()> {
    let refuse = |reason: String| Err(AuthError::InvalidPassword { reason });
    if password.chars().count() < policy.min_chars {
        return refuse(format!("use at least {} characters", policy.min_chars));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return refuse(format!(
            "use at most {MAX_PASSWORD_BYTES} bytes (bcrypt ignores the rest, so longer \
             passwords are refused rather than silently cut)"
        ));
    }
    if policy.reject_guessable {
        let estimate = zxcvbn::zxcvbn(password, context);
        if u8::from(estimate.score()) < 2 {
            let hint = estimate
                .feedback()
                .and_then(zxcvbn::feedback::Feedback::warning)
                .map_or_else(|| "it is too easy to guess".to_owned(), |w| w.to_string());
            return refuse(format!("{hint} — choose a less common password"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The component alone: a new password passes the policy with the account's details
    /// as forbidden words, then hashes to something the hasher verifies.
    #[tokio::test]
    async fn a_new_password_is_checked_against_the_account_then_hashed() {
        let passwords = Passwords::new(PasswordPolicy::default(), PasswordHasher::new(4, 1, 1));
        let refused = passwords
            .hash_new("grace.hopper1906", "grace.hopper1906@example.com", None)
            .await;
        assert!(
            matches!(refused, Err(AuthError::InvalidPassword { .. })),
            "the address is a forbidden word: {refused:?}"
        );
        let refused = passwords.check("Featherstone77", "ada@example.com", Some("Featherstone77"));
        assert!(refused.is_err(), "so is the name");
        let hash = passwords
            .hash_new("kq8#Lm2p-vessel", "ada@example.com", Some("Ada"))
            .await
            .unwrap();
        assert_eq!(cost_of(&hash), Some(4));
        assert!(
            passwords
                .hasher()
                .verify("kq8#Lm2p-vessel", &hash)
                .await
                .unwrap()
        );
        assert!(
            !passwords
                .hasher()
                .verify("kq8#Lm2p-vesseL", &hash)
                .await
                .unwrap()
        );
    }

    #[test]
    fn policy() {
        let policy = PasswordPolicy::default();
        assert!(check_policy(&policy, "kq8#Lm2p-vessel", &[]).is_ok());
        for (password, why) in [
            ("short1!", "at least 8"),
            ("password", "less common"),
            ("password1", "less common"),
            ("qwertyuiop", "less common"),
            ("12345678", "less common"),
            ("aaaaaaaaaaaa", "less common"),
        ] {
            let err = check_policy(&policy, password, &[]).unwrap_err();
            assert!(err.to_string().contains(why), "{password}: {err}");
        }
        // The user's own e-mail is not a password.
        let err = check_policy(
            &policy,
            "ada.lovelace1815",
            &["ada.lovelace1815@example.com", "ada.lovelace1815"],
        );
        assert!(err.is_err());
        // 73 bytes: refused, not truncated.
        let long = format!("{}é", "x9#Qv".repeat(14));
        assert_eq!(long.len(), 72);
        assert!(check_policy(&policy, &long, &[]).is_ok());
        let err = check_policy(&policy, &format!("{long}!"), &[]).unwrap_err();
        assert!(err.to_string().contains("at most 72 bytes"), "{err}");
    }

    /// A caller that stops waiting (a client disconnect drops the request future) does not
    /// free the job's place: bcrypt still runs, so the queue still counts it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_abandoned_hash_keeps_its_place() {
        let hasher = PasswordHasher::new(13, 1, 0);
        let abandoned =
            tokio::time::timeout(std::time::Duration::from_millis(20), hasher.hash("a")).await;
        assert!(abandoned.is_err(), "cost 13 takes longer than 20 ms");
        assert!(matches!(hasher.hash("b").await, Err(AuthError::Overloaded)));
        // Once the abandoned job ends, its place is free again.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while hasher.in_flight.load(Ordering::Acquire) > 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the slot was never freed"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(hasher.hash("c").await.is_ok());
    }

    #[test]
    fn costs() {
        assert_eq!(
            cost_of("$2b$12$HTXYkXBa9EvEh/C1gQnVfeGPVYCLiD.wZw0H5d2UHz8UZrNd5voQm"),
            Some(12)
        );
        assert_eq!(cost_of("$2y$10$abc"), Some(10));
        assert_eq!(cost_of("$argon2id$v=19$..."), None);
        let hasher = PasswordHasher::new(12, 1, 1);
        assert!(hasher.needs_rehash("$2b$10$x"));
        assert!(!hasher.needs_rehash("$2b$12$x"));
        assert!(!hasher.needs_rehash("$2b$13$x"));
        assert!(hasher.needs_rehash("plaintext"));
    }
}
