//! Single-use bearer tokens — e-mail verification, password reset, MFA challenge, OAuth
//! state, security report — issued, peeked at and consumed by purpose, in one place.
//!
//! A token is 256 random bits handed to its holder once (in an e-mail, a redirect, a
//! response); only its sha-256 is stored, so a database dump holds nothing usable. Every
//! method takes the executor to run on (the pool or a transaction), so a flow can issue or
//! consume a token in the same transaction as the change it belongs to.

use std::sync::Arc;

use chrono::TimeDelta;
use tollbooth_db::{NewToken, TokenPurpose, TokenRepo, VerificationToken};
use uuid::Uuid;

use crate::clock::Clock;
use crate::error::Result;
use crate::secret::{hash_token, new_token};

/// What to issue: a token for `purpose` about `identifier`, valid for `ttl`.
#[derive(Debug)]
pub(crate) struct Issue {
    purpose: TokenPurpose,
    identifier: String,
    ttl: TimeDelta,
    user: Option<Uuid>,
    payload: Option<serde_json::Value>,
    replace_older: bool,
}

impl Issue {
    pub(crate) fn new(
        purpose: TokenPurpose,
        identifier: impl Into<String>,
        ttl: TimeDelta,
    ) -> Self {
        Self {
            purpose,
            identifier: identifier.into(),
            ttl,
            user: None,
            payload: None,
            replace_older: false,
        }
    }

    /// Ties the token to a user (deleted with them; read back on use).
    pub(crate) fn user(mut self, user: Uuid) -> Self {
        self.user = Some(user);
        self
    }

    /// Purpose-specific data stored with the token.
    pub(crate) fn payload(mut self, payload: serde_json::Value) -> Self {
        self.payload = Some(payload);
        self
    }

    /// Every earlier token of this purpose about this identifier stops working: the newest
    /// link is the only one (a second "forgot password" kills the first e-mail's link).
    pub(crate) fn replacing_older(mut self) -> Self {
        self.replace_older = true;
        self
    }
}

/// An issued token: the bearer secret (hand it out once) and its stored row.
pub(crate) struct Issued {
    pub(crate) token: String,
    pub(crate) row: VerificationToken,
}

/// Issues, peeks at and consumes single-use tokens. Owns nothing but the clock: the rows
/// live in the executor it is given.
#[derive(Clone)]
pub(crate) struct OneTimeTokens {
    clock: Arc<dyn Clock>,
}

impl OneTimeTokens {
    pub(crate) fn new(clock: Arc<dyn Clock>) -> Self {
        Self { clock }
    }

    /// Stores a new token as described and returns the secret with its row.
    pub(crate) async fn issue(&self, repo: &impl TokenRepo, issue: Issue) -> Result<Issued> {
        if issue.replace_older {
            repo.delete_tokens(issue.purpose, &issue.identifier).await?;
        }
        let (token, hash) = new_token();
        let mut new = NewToken::new(
            issue.purpose,
            issue.identifier,
            hash,
            self.clock.now() + issue.ttl,
        );
        if let Some(user) = issue.user {
            new = new.user(user);
        }
        if let Some(payload) = issue.payload {
            new = new.payload(payload);
        }
        let row = repo.create_token(new).await?;
        Ok(Issued { token, row })
    }

    /// The token's row if it is usable for `purpose` (unused, unexpired), without using it:
    /// for flows that check more (a password policy, a second factor) before consuming, so
    /// a refused attempt does not burn the link.
    pub(crate) async fn peek(
        &self,
        repo: &impl TokenRepo,
        purpose: TokenPurpose,
        token: &str,
    ) -> Result<Option<VerificationToken>> {
        Ok(repo
            .find_usable_token(&hash_token(token), purpose, self.clock.now())
            .await?)
    }

    /// Uses the token: of concurrent calls with one token exactly one gets its row.
    pub(crate) async fn consume(
        &self,
        repo: &impl TokenRepo,
        purpose: TokenPurpose,
        token: &str,
    ) -> Result<Option<VerificationToken>> {
        Ok(repo
            .consume_token(&hash_token(token), purpose, self.clock.now())
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use tollbooth_core::ManualClock;
    use tollbooth_db::testing::TestDb;

    use super::*;

    fn tokens() -> (OneTimeTokens, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(tollbooth_db::now()));
        (OneTimeTokens::new(clock.clone()), clock)
    }

    #[tokio::test]
    async fn a_token_is_used_once_for_its_purpose_only_before_it_expires() {
        let db = TestDb::sqlite().await;
        let (tokens, clock) = tokens();
        let ttl = TimeDelta::minutes(10);
        let issued = tokens
            .issue(
                &*db,
                Issue::new(TokenPurpose::PasswordReset, "ada@example.com", ttl),
            )
            .await
            .unwrap();
        assert_eq!(issued.row.identifier, "ada@example.com");
        assert_ne!(
            issued.row.token_hash,
            issued.token.as_bytes(),
            "only the hash is stored"
        );

        let wrong_purpose = tokens
            .consume(&*db, TokenPurpose::EmailVerification, &issued.token)
            .await
            .unwrap();
        assert!(wrong_purpose.is_none(), "a reset token verifies no e-mail");
        let peeked = tokens
            .peek(&*db, TokenPurpose::PasswordReset, &issued.token)
            .await
            .unwrap();
        assert_eq!(
            peeked.map(|row| row.id),
            Some(issued.row.id),
            "peeking uses nothing"
        );
        let used = tokens
            .consume(&*db, TokenPurpose::PasswordReset, &issued.token)
            .await
            .unwrap();
        assert_eq!(used.map(|row| row.id), Some(issued.row.id));
        let again = tokens
            .consume(&*db, TokenPurpose::PasswordReset, &issued.token)
            .await
            .unwrap();
        assert!(again.is_none(), "single use");

        let late = tokens
            .issue(
                &*db,
                Issue::new(TokenPurpose::PasswordReset, "ada@example.com", ttl),
            )
            .await
            .unwrap();
        clock.advance(ttl + TimeDelta::seconds(1));
        let expired = tokens
            .peek(&*db, TokenPurpose::PasswordReset, &late.token)
            .await
            .unwrap();
        assert!(expired.is_none(), "expired");
    }

    #[tokio::test]
    async fn replacing_older_kills_earlier_tokens_of_that_purpose_and_identifier_only() {
        let db = TestDb::sqlite().await;
        let (tokens, _) = tokens();
        let ttl = TimeDelta::hours(1);
        let reset = |who: &str| Issue::new(TokenPurpose::PasswordReset, who, ttl);
        let first = tokens.issue(&*db, reset("ada@example.com")).await.unwrap();
        let other = tokens.issue(&*db, reset("bob@example.com")).await.unwrap();
        let verify = tokens
            .issue(
                &*db,
                Issue::new(TokenPurpose::EmailVerification, "ada@example.com", ttl),
            )
            .await
            .unwrap();
        let second = tokens
            .issue(&*db, reset("ada@example.com").replacing_older())
            .await
            .unwrap();

        let usable = |purpose, token: String| {
            let (db, tokens) = (&db, &tokens);
            async move { tokens.peek(&**db, purpose, &token).await.unwrap().is_some() }
        };
        assert!(!usable(TokenPurpose::PasswordReset, first.token).await);
        assert!(usable(TokenPurpose::PasswordReset, second.token).await);
        assert!(
            usable(TokenPurpose::PasswordReset, other.token).await,
            "another address"
        );
        assert!(
            usable(TokenPurpose::EmailVerification, verify.token).await,
            "another purpose"
        );
    }
}
