//! The crate's one error type, with the HTTP status every adapter uses.

use std::borrow::Cow;
use std::time::Duration;

use tollbooth_core::WireError;
use tollbooth_core::http::StatusCode;

use tollbooth_db::DbError;
use tollbooth_email::EmailError;

/// `Result` with [`AuthError`].
pub type Result<T, E = AuthError> = std::result::Result<T, E>;

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything an auth operation can refuse or fail with.
///
/// | variant | status | code |
/// |---|---|---|
/// | [`InvalidCredentials`](Self::InvalidCredentials) | 401 | `invalid_credentials` |
/// | [`Unauthorized`](Self::Unauthorized) | 401 | `unauthorized` |
/// | [`Forbidden`](Self::Forbidden) | 403 | `forbidden` |
/// | [`ReauthenticationRequired`](Self::ReauthenticationRequired) | 403 | `reauthentication_required` |
/// | [`EmailNotVerified`](Self::EmailNotVerified) | 403 | `email_not_verified` |
/// | [`Impersonating`](Self::Impersonating) | 403 | `impersonating` |
/// | [`Banned`](Self::Banned) | 403 | `banned` |
/// | [`UserNotFound`](Self::UserNotFound) | 404 | `user_not_found` |
/// | [`OrganizationNotFound`](Self::OrganizationNotFound), [`MemberNotFound`](Self::MemberNotFound) | 404 | `organization_not_found`, `member_not_found` |
/// | [`InvitationNotFound`](Self::InvitationNotFound) | 404 | `invitation_not_found` |
/// | [`InvitationForAnotherAddress`](Self::InvitationForAnotherAddress) | 403 | `invitation_for_another_address` |
/// | [`SlugTaken`](Self::SlugTaken), [`LastOwner`](Self::LastOwner), [`AlreadyMember`](Self::AlreadyMember), [`AlreadyInvited`](Self::AlreadyInvited), [`SeatLimitReached`](Self::SeatLimitReached) | 409 | `slug_taken`, `last_owner`, `already_member`, `already_invited`, `seat_limit_reached` |
/// | [`EmailTaken`](Self::EmailTaken) | 409 | `email_taken` |
/// | [`InvalidPassword`](Self::InvalidPassword) | 422 | `invalid_password` |
/// | [`InvalidInput`](Self::InvalidInput) | 422 | `invalid_input` |
/// | [`InvalidToken`](Self::InvalidToken) | 422 | `invalid_token` |
/// | [`InvalidOAuthState`](Self::InvalidOAuthState), [`OAuthDenied`](Self::OAuthDenied) | 400 | `invalid_oauth_state`, `oauth_denied` |
/// | [`OAuthRejected`](Self::OAuthRejected), [`InvalidMfaCode`](Self::InvalidMfaCode) | 401 | `oauth_rejected`, `invalid_mfa_code` |
/// | [`ProviderEmailUnverified`](Self::ProviderEmailUnverified) | 403 | `provider_email_unverified` |
/// | [`ProviderNotConfigured`](Self::ProviderNotConfigured) | 404 | `provider_not_configured` |
/// | [`AccountLinkRequired`](Self::AccountLinkRequired), [`AccountAlreadyLinked`](Self::AccountAlreadyLinked), [`LastSignInMethod`](Self::LastSignInMethod), [`MfaState`](Self::MfaState) | 409 | … |
/// | [`ProviderUnavailable`](Self::ProviderUnavailable) | 503 | `provider_unavailable` |
/// | [`RateLimited`](Self::RateLimited) | 429 | `rate_limited` (+ `Retry-After`) |
/// | [`Overloaded`](Self::Overloaded) | 503 | `overloaded` |
/// | [`DeletionRefused`](Self::DeletionRefused) | the step's | the step's (billing's Stripe down: 503 `payment_provider_unavailable`) |
/// | [`Unavailable`](Self::Unavailable) | 503 | `unavailable` |
/// | [`Internal`](Self::Internal) | 500 | `internal` |
///
/// The HTTP side is [`WireError`]: a 5xx body says only a fixed message per code.
/// Configuration problems are [`ConfigError`](tollbooth_core::ConfigError)s of the builders,
/// never a request's error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Wrong e-mail or password (deliberately not saying which).
    #[error("invalid e-mail or password")]
    InvalidCredentials,
    /// No valid session: missing, malformed, forged, expired or revoked.
    #[error("authentication required")]
    Unauthorized,
    /// Signed in, but not allowed (e.g. the wrong role).
    #[error("not allowed")]
    Forbidden,
    /// An administrator impersonating the user cannot make this change (password,
    /// address, second factor, providers, export, deletion).
    #[error("not while impersonating a user")]
    Impersonating,
    /// A sensitive change (MFA, providers) needs a session that signed in or
    /// re-authenticated recently: re-authenticate ([`Auth::reauthenticate`](crate::Auth::reauthenticate)) and retry.
    #[error("confirm it is you: re-authenticate, then retry")]
    ReauthenticationRequired,
    /// The password was right but the address is not verified yet.
    #[error("e-mail address not verified")]
    EmailNotVerified,
    /// The account is banned: every way of signing in is refused while the ban lasts. Said
    /// only once the first factor (password, provider, reset link) proved right.
    #[error("this account has been suspended")]
    Banned,
    /// An administrator named a user that does not exist.
    #[error("no such user")]
    UserNotFound,
    /// No such organization, or the user does not belong to it: the two are not told
    /// apart, so organization ids cannot be probed.
    #[error("no such organization")]
    OrganizationNotFound,
    /// The user named is not a member of the organization.
    #[error("no such member")]
    MemberNotFound,
    /// No pending invitation with this id in the organization.
    #[error("no such pending invitation")]
    InvitationNotFound,
    /// The invitation was sent to another address than the signed-in user's: it can only
    /// be accepted by an account with the invited address.
    #[error("this invitation was sent to another e-mail address")]
    InvitationForAnotherAddress,
    /// The address already belongs to a member of the organization.
    #[error("already a member of this organization")]
    AlreadyMember,
    /// The address has a pending invitation already: send that one again instead.
    #[error("already invited: send the pending invitation again instead")]
    AlreadyInvited,
    /// Another organization has this slug.
    #[error("this slug is taken")]
    SlugTaken,
    /// Refused: it would leave the organization without an owner. Make another member an
    /// owner first, or delete the organization.
    #[error(
        "an organization must keep an owner: make another member an owner, or delete the organization"
    )]
    LastOwner,
    /// The organization's plan allows no more seats (members and pending invitations):
    /// upgrade, remove a member or revoke an invitation first.
    #[error(
        "the organization's plan allows {limit} seats, all taken by members and pending invitations"
    )]
    SeatLimitReached {
        /// The plan's seat limit.
        limit: u32,
    },
    /// An account with this e-mail exists.
    #[error("an account with this e-mail already exists")]
    EmailTaken,
    /// The password does not meet the policy.
    #[error("password refused: {reason}")]
    InvalidPassword {
        /// Which rule it breaks, in words a user can act on.
        reason: String,
    },
    /// A field is malformed.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// The field.
        field: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// A verification, reset or challenge token is unknown, used, expired or for another
    /// purpose.
    #[error("this link or code is invalid or has expired")]
    InvalidToken,
    /// The OAuth callback's `state` is missing, unknown, used, expired, for another provider,
    /// or not bound to this browser. Nothing was written.
    #[error("invalid or expired sign-in attempt; start again")]
    InvalidOAuthState,
    /// The user declined at the provider (or the provider reported an error).
    #[error("sign-in was cancelled at the provider")]
    OAuthDenied,
    /// The provider's answer failed verification (an id_token with a bad signature, issuer,
    /// audience, expiry or nonce; a refused code exchange). Nothing was written.
    #[error("the identity provider's response was rejected")]
    OAuthRejected {
        /// What failed (logged, not shown).
        reason: String,
    },
    /// The provider has no verified e-mail for this identity, so no account can be made.
    #[error("the provider reports no verified e-mail address for this account")]
    ProviderEmailUnverified,
    /// The provider is not configured.
    #[error("sign-in with {provider} is not configured")]
    ProviderNotConfigured {
        /// `github`, `google`.
        provider: String,
    },
    /// An account with this e-mail exists but cannot be linked automatically (one of the
    /// two addresses is unverified): sign in to it and link the provider from settings.
    #[error("an account with this e-mail exists; sign in and link {provider} from your settings")]
    AccountLinkRequired {
        /// The provider.
        provider: String,
    },
    /// This provider identity already belongs to another account.
    #[error("this {provider} account is already linked to another user")]
    AccountAlreadyLinked {
        /// The provider.
        provider: String,
    },
    /// Refused: it is the user's only way to sign in.
    #[error("cannot remove the last sign-in method")]
    LastSignInMethod,
    /// The MFA operation does not fit the current state (enroll when enabled, confirm with
    /// nothing pending, disable when off, MFA not configured).
    #[error("{reason}")]
    MfaState {
        /// What is wrong.
        reason: &'static str,
    },
    /// The TOTP or backup code is wrong, reused, or the challenge expired.
    #[error("invalid code")]
    InvalidMfaCode,
    /// The identity provider could not be reached.
    #[error("the identity provider is unavailable")]
    ProviderUnavailable {
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// Too many attempts; try again after `retry_after`.
    #[error("too many attempts; retry in {} s", retry_after.as_secs().max(1))]
    RateLimited {
        /// How long to wait.
        retry_after: Duration,
    },
    /// Too many password hashes queued; shed load rather than queue without bound.
    #[error("server busy; retry shortly")]
    Overloaded,
    /// The database is unreachable (transient).
    #[error("service temporarily unavailable")]
    Unavailable {
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// A step configured to run before an account or organization is deleted
    /// ([`AuthConfigBuilder::before_account_deletion`](crate::AuthConfigBuilder::before_account_deletion),
    /// [`before_organization_deletion`](crate::AuthConfigBuilder::before_organization_deletion))
    /// refused it — billing could not cancel the subscriptions, say. Nothing was deleted.
    /// Answered as the step's own error: its status, code and message.
    #[error("deletion refused: {}", by.public_message())]
    DeletionRefused {
        /// The step's error.
        by: tollbooth_core::DeletionRefused,
    },
    /// A bug or an unexpected failure.
    #[error("internal error")]
    Internal {
        /// The cause (logged, never shown to clients).
        #[source]
        source: BoxError,
    },
}

impl WireError for AuthError {
    fn status(&self) -> StatusCode {
        match self {
            Self::InvalidOAuthState | Self::OAuthDenied => StatusCode::BAD_REQUEST,
            Self::InvalidCredentials
            | Self::Unauthorized
            | Self::OAuthRejected { .. }
            | Self::InvalidMfaCode => StatusCode::UNAUTHORIZED,
            Self::Forbidden
            | Self::ReauthenticationRequired
            | Self::Impersonating
            | Self::InvitationForAnotherAddress
            | Self::EmailNotVerified
            | Self::Banned
            | Self::ProviderEmailUnverified => StatusCode::FORBIDDEN,
            Self::ProviderNotConfigured { .. }
            | Self::UserNotFound
            | Self::OrganizationNotFound
            | Self::MemberNotFound
            | Self::InvitationNotFound => StatusCode::NOT_FOUND,
            Self::EmailTaken
            | Self::SlugTaken
            | Self::LastOwner
            | Self::SeatLimitReached { .. }
            | Self::AlreadyMember
            | Self::AlreadyInvited
            | Self::AccountLinkRequired { .. }
            | Self::AccountAlreadyLinked { .. }
            | Self::LastSignInMethod
            | Self::MfaState { .. } => StatusCode::CONFLICT,
            Self::InvalidPassword { .. } | Self::InvalidInput { .. } | Self::InvalidToken => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Overloaded | Self::Unavailable { .. } | Self::ProviderUnavailable { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            Self::DeletionRefused { by } => by.status(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::InvalidCredentials => "invalid_credentials",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::ReauthenticationRequired => "reauthentication_required",
            Self::Impersonating => "impersonating",
            Self::EmailNotVerified => "email_not_verified",
            Self::Banned => "banned",
            Self::UserNotFound => "user_not_found",
            Self::OrganizationNotFound => "organization_not_found",
            Self::MemberNotFound => "member_not_found",
            Self::InvitationNotFound => "invitation_not_found",
            Self::InvitationForAnotherAddress => "invitation_for_another_address",
            Self::AlreadyMember => "already_member",
            Self::AlreadyInvited => "already_invited",
            Self::SlugTaken => "slug_taken",
            Self::LastOwner => "last_owner",
            Self::SeatLimitReached { .. } => "seat_limit_reached",
            Self::EmailTaken => "email_taken",
            Self::InvalidPassword { .. } => "invalid_password",
            Self::InvalidInput { .. } => "invalid_input",
            Self::InvalidToken => "invalid_token",
            Self::InvalidOAuthState => "invalid_oauth_state",
            Self::OAuthDenied => "oauth_denied",
            Self::OAuthRejected { .. } => "oauth_rejected",
            Self::ProviderEmailUnverified => "provider_email_unverified",
            Self::ProviderNotConfigured { .. } => "provider_not_configured",
            Self::AccountLinkRequired { .. } => "account_link_required",
            Self::AccountAlreadyLinked { .. } => "account_already_linked",
            Self::LastSignInMethod => "last_sign_in_method",
            Self::MfaState { .. } => "mfa_state",
            Self::InvalidMfaCode => "invalid_mfa_code",
            Self::ProviderUnavailable { .. } => "provider_unavailable",
            Self::RateLimited { .. } => "rate_limited",
            Self::Overloaded => "overloaded",
            Self::Unavailable { .. } => "unavailable",
            Self::Internal { .. } => "internal",
            Self::DeletionRefused { by } => by.code(),
        }
    }

    fn client_message(&self) -> Cow<'_, str> {
        match self {
            Self::DeletionRefused { by } => by.client_message(),
            _ => Cow::Owned(self.to_string()),
        }
    }

    fn server_message(&self) -> &'static str {
        match self {
            Self::DeletionRefused { by } => by.server_message(),
            Self::Overloaded => "server busy; retry shortly",
            Self::Unavailable { .. } => "service temporarily unavailable",
            Self::ProviderUnavailable { .. } => "the identity provider is unavailable",
            _ => "internal error",
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after } => Some(*retry_after),
            Self::DeletionRefused { by } => by.retry_after(),
            _ => None,
        }
    }
}

impl AuthError {
    pub(crate) fn internal(source: impl Into<BoxError>) -> Self {
        Self::Internal {
            source: source.into(),
        }
    }
}

impl From<DbError> for AuthError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::Unavailable { .. } => Self::Unavailable {
                source: Box::new(err),
            },
            other => Self::internal(other),
        }
    }
}

impl From<EmailError> for AuthError {
    fn from(err: EmailError) -> Self {
        match err {
            EmailError::InvalidAddress { .. } | EmailError::HeaderInjection { .. } => {
                Self::InvalidInput {
                    field: "email",
                    reason: "not a valid e-mail address",
                }
            }
            other => Self::internal(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// By construction: a 5xx body's message is a fixed string per code, whatever the cause.
    #[test]
    fn no_5xx_body_carries_its_cause() {
        let secret = "password=hunter2 at db.internal:5432";
        let cause = || -> BoxError { secret.into() };
        let errors = [
            AuthError::Internal { source: cause() },
            AuthError::Unavailable { source: cause() },
            AuthError::ProviderUnavailable { source: cause() },
            AuthError::Overloaded,
        ];
        for error in errors {
            assert!(error.status().is_server_error(), "{error:?}");
            let body = tollbooth_core::error_body(&error).to_string();
            assert!(!body.contains("hunter2"), "{body}");
            assert_eq!(error.public_message(), error.server_message());
        }
        let limited = AuthError::RateLimited {
            retry_after: Duration::from_millis(1500),
        };
        assert_eq!(limited.retry_after_seconds(), Some(1));
        assert_eq!(
            tollbooth_core::error_body(&AuthError::InvalidToken)["message"],
            "this link or code is invalid or has expired"
        );
    }
}
