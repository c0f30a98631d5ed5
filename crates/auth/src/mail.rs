//! Auth e-mails: which template each flow sends, the links in them, and their idempotency
//! keys — in one place.
//!
//! Every e-mail is written to the durable outbox inside the transaction of the change it
//! reports (so they commit together), and sent by the outbox worker after
//! [`AuthMail::committed`]: a response's timing never depends on the provider, and a crash
//! after the commit loses nothing. The idempotency key names the token the e-mail carries,
//! so a retried delivery is one e-mail at the provider.

use std::net::IpAddr;

use chrono::{DateTime, TimeDelta, Utc};
use tollbooth_db::{Invitation, Organization, OutboxRepo, User};
use tollbooth_email::{
    AccountDeletedEmail, AccountDeletedProps, EmailChangeVerificationEmail,
    EmailChangeVerificationProps, EmailChangedNoticeEmail, EmailChangedNoticeProps, EmailError,
    EmailTemplate, Link, NewSignInAlertEmail, NewSignInAlertProps, Outbox, PasswordResetEmail,
    PasswordResetProps, PublicBaseUrl, SecurityChange, SecurityNoticeEmail, SecurityNoticeProps,
    SetPasswordEmail, SetPasswordProps, TeamInviteEmail, TeamInviteProps, WelcomeEmail,
    WelcomeProps,
};

use crate::config::AuthConfig;
use crate::error::{AuthError, Result};
use crate::tokens::Issued;

/// The auth e-mails over the outbox.
pub(crate) struct AuthMail {
    outbox: Outbox,
    base_url: PublicBaseUrl,
    verify_email_path: String,
    reset_password_path: String,
    confirm_email_change_path: String,
    security_report_path: String,
    accept_invitation_path: String,
    /// How long an invitation works, said in the e-mail.
    invitation_ttl: TimeDelta,
    /// How long a reset link lives, said in the e-mail.
    reset_ttl: TimeDelta,
    /// How long an e-mail change link lives, said in the e-mail.
    email_change_ttl: TimeDelta,
    /// How long a "this wasn't me" link lives, said in the notice.
    security_report_ttl: TimeDelta,
    /// How far back a report undoes changes, said in the notice.
    recovery_window: TimeDelta,
}

impl AuthMail {
    pub(crate) fn new(outbox: Outbox, config: &AuthConfig) -> Self {
        Self {
            outbox,
            base_url: config.public_base_url.clone(),
            verify_email_path: config.verify_email_path.clone(),
            reset_password_path: config.reset_password_path.clone(),
            confirm_email_change_path: config.confirm_email_change_path.clone(),
            security_report_path: config.security_report_path.clone(),
            accept_invitation_path: config.accept_invitation_path.clone(),
            invitation_ttl: config.invitation_ttl,
            reset_ttl: config.reset_ttl,
            email_change_ttl: config.email_change_ttl,
            security_report_ttl: config.security_report_ttl,
            recovery_window: config.recovery_window,
        }
    }

    /// The welcome e-mail of a new account, with its verification link unless the address
    /// is proved already (an OAuth sign-up).
    pub(crate) async fn welcome(
        &self,
        tx: &impl OutboxRepo,
        user: &User,
        verification: Option<&Issued>,
    ) -> Result<()> {
        let key = format!("welcome/{}", user.id);
        self.welcome_template(tx, user, verification, key).await
    }

    /// A new verification link for an unverified account (the welcome template again).
    pub(crate) async fn verification(
        &self,
        tx: &impl OutboxRepo,
        user: &User,
        verification: &Issued,
    ) -> Result<()> {
        let key = format!("verify-email/{}", verification.row.id);
        self.welcome_template(tx, user, Some(verification), key)
            .await
    }

    /// A password-reset link.
    pub(crate) async fn password_reset(
        &self,
        tx: &impl OutboxRepo,
        user: &User,
        reset: &Issued,
    ) -> Result<()> {
        let props = PasswordResetProps {
            name: user.name.clone(),
            reset_url: self.link(&self.reset_password_path, &reset.token),
            expires_in: self.reset_ttl,
        };
        let key = format!("password-reset/{}", reset.row.id);
        self.queue::<PasswordResetEmail>(tx, &user.email, &props, key)
            .await
    }

    /// A first password for an account without one: the reset link, in words for a user
    /// who signs in with a provider.
    pub(crate) async fn set_password(
        &self,
        tx: &impl OutboxRepo,
        user: &User,
        link: &Issued,
    ) -> Result<()> {
        let props = SetPasswordProps {
            name: user.name.clone(),
            set_url: self.link(&self.reset_password_path, &link.token),
            expires_in: self.reset_ttl,
        };
        let key = format!("set-password/{}", link.row.id);
        self.queue::<SetPasswordEmail>(tx, &user.email, &props, key)
            .await
    }

    /// The link that applies an e-mail change, sent to the new address `to`.
    pub(crate) async fn email_change(
        &self,
        tx: &impl OutboxRepo,
        user: &User,
        to: &str,
        change: &Issued,
    ) -> Result<()> {
        let props = EmailChangeVerificationProps {
            name: user.name.clone(),
            new_email: to.to_owned(),
            confirm_url: self.link(&self.confirm_email_change_path, &change.token),
            expires_in: self.email_change_ttl,
        };
        let key = format!("email-change/{}", change.row.id);
        self.queue::<EmailChangeVerificationEmail>(tx, to, &props, key)
            .await
    }

    /// To the old address of `user` (the row before the change): the address is now `to`,
    /// with the "this wasn't me" link that gives it back.
    pub(crate) async fn email_changed(
        &self,
        tx: &impl OutboxRepo,
        user: &User,
        to: &str,
        at: DateTime<Utc>,
        ip: Option<IpAddr>,
        report: &Issued,
    ) -> Result<()> {
        let props = EmailChangedNoticeProps {
            name: user.name.clone(),
            new_email: to.to_owned(),
            at,
            ip: ip.map(|ip| ip.to_string()),
            report_url: self.link(&self.security_report_path, &report.token),
            expires_in: self.security_report_ttl,
        };
        let key = format!("email-changed/{}", report.row.id);
        self.queue::<EmailChangedNoticeEmail>(tx, &user.email, &props, key)
            .await
    }

    /// A sign-in from a device not seen lately: when, from where, which browser, with the
    /// "this wasn't me" link.
    pub(crate) async fn new_sign_in(
        &self,
        tx: &impl OutboxRepo,
        user: &User,
        at: DateTime<Utc>,
        ip: Option<IpAddr>,
        device: Option<String>,
        report: &Issued,
    ) -> Result<()> {
        let props = NewSignInAlertProps {
            name: user.name.clone(),
            at,
            ip: ip.map(|ip| ip.to_string()),
            device,
            report_url: self.link(&self.security_report_path, &report.token),
            expires_in: self.security_report_ttl,
        };
        let key = format!("new-sign-in/{}", report.row.id);
        self.queue::<NewSignInAlertEmail>(tx, &user.email, &props, key)
            .await
    }

    /// What changed, when and from where, with the "this wasn't me" link.
    pub(crate) async fn security_notice(
        &self,
        tx: &impl OutboxRepo,
        user: &User,
        change: SecurityChange,
        at: DateTime<Utc>,
        ip: Option<IpAddr>,
        report: &Issued,
    ) -> Result<()> {
        let props = SecurityNoticeProps {
            name: user.name.clone(),
            change,
            at,
            ip: ip.map(|ip| ip.to_string()),
            report_url: self.link(&self.security_report_path, &report.token),
            expires_in: self.security_report_ttl,
            recovery_window: self.recovery_window,
        };
        let key = format!("security-notice/{}", report.row.id);
        self.queue::<SecurityNoticeEmail>(tx, &user.email, &props, key)
            .await
    }

    /// To the address of the account `user` just deleted (inside the deletion's
    /// transaction): when, and from where. Keyed on the user, who is deleted once.
    pub(crate) async fn account_deleted(
        &self,
        tx: &impl OutboxRepo,
        user: &User,
        at: DateTime<Utc>,
        ip: Option<IpAddr>,
    ) -> Result<()> {
        let props = AccountDeletedProps {
            name: user.name.clone(),
            at,
            ip: ip.map(|ip| ip.to_string()),
        };
        let key = format!("account-deleted/{}", user.id);
        self.queue::<AccountDeletedEmail>(tx, &user.email, &props, key)
            .await
    }

    /// The invitation to `organization` from `inviter`, to the invited address, with the
    /// accept link. Keyed on the token, so sending it again (a new token) is a new e-mail.
    pub(crate) async fn team_invite(
        &self,
        tx: &impl OutboxRepo,
        invitation: &Invitation,
        token: &str,
        inviter: &User,
        organization: &Organization,
    ) -> Result<()> {
        let props = TeamInviteProps {
            inviter_name: inviter
                .name
                .clone()
                .unwrap_or_else(|| inviter.email.clone()),
            team_name: organization.name.clone(),
            accept_url: self.link(&self.accept_invitation_path, token),
            expires_in: self.invitation_ttl,
        };
        let token_key: String = invitation.token_hash[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let key = format!("team-invite/{}/{token_key}", invitation.id);
        self.queue::<TeamInviteEmail>(tx, &invitation.email, &props, key)
            .await
    }

    /// Wakes the outbox worker after a transaction that queued e-mails committed.
    pub(crate) fn committed(&self) {
        self.outbox.notify();
    }

    /// Delivers every e-mail due now (graceful shutdown, tests).
    pub(crate) async fn flush(&self) {
        if let Err(error) = self.outbox.flush().await {
            tracing::warn!(%error, "auth e-mails not flushed");
        }
    }

    async fn welcome_template(
        &self,
        tx: &impl OutboxRepo,
        user: &User,
        verification: Option<&Issued>,
        key: String,
    ) -> Result<()> {
        let props = WelcomeProps {
            name: user.name.clone(),
            verify_url: verification.map(|v| self.link(&self.verify_email_path, &v.token)),
        };
        self.queue::<WelcomeEmail>(tx, &user.email, &props, key)
            .await
    }

    fn link(&self, path: &str, token: &str) -> Link {
        self.base_url.link(path, &[("token", token)])
    }

    async fn queue<T: EmailTemplate>(
        &self,
        tx: &impl OutboxRepo,
        to: &str,
        props: &T::Props,
        key: String,
    ) -> Result<()> {
        self.outbox
            .queue::<T>(tx, to, props, key)
            .await
            .map(|_| ())
            .map_err(|error| match error {
                EmailError::Storage { source } => AuthError::from(source),
                other => AuthError::internal(other),
            })
    }
}
