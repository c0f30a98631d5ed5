//! Typed templates: each template names its props type, so passing the wrong props to a
//! template does not compile. Bodies are askama templates (`templates/*.html`, `*.txt`),
//! checked at compile time; every prop is HTML-escaped in the HTML part.

use askama::Template;
use chrono::{DateTime, TimeDelta, Utc};

use crate::address::Address;
use crate::error::{EmailError, Result};
use crate::link::Link;
use crate::money::Money;

/// The product the e-mails speak for, shown in every template.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Brand {
    /// Product name (`Acme`), in subjects, headers and footers.
    pub product_name: String,
    /// Shown in the footer as the address for questions.
    pub support_email: Option<Address>,
}

impl Brand {
    /// A brand with this product name and no support address.
    pub fn new(product_name: impl Into<String>) -> Self {
        Self {
            product_name: product_name.into(),
            support_email: None,
        }
    }

    /// Adds the support address shown in footers.
    pub fn support_email(mut self, address: Address) -> Self {
        self.support_email = Some(address);
        self
    }
}

/// A rendered message body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    /// Subject line.
    pub subject: String,
    /// HTML part.
    pub html: String,
    /// Plain-text part.
    pub text: String,
}

/// A transactional e-mail template. Implement it for your own templates too.
pub trait EmailTemplate {
    /// What the template needs to render.
    type Props: Send + Sync;
    /// Short stable name (`welcome`), used in logs and default idempotency keys.
    const NAME: &'static str;
    /// Renders subject, HTML and text.
    fn render(props: &Self::Props, brand: &Brand) -> Result<Rendered>;
}

/// Props of [`WelcomeEmail`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WelcomeProps {
    /// Recipient's name, if known.
    pub name: Option<String>,
    /// E-mail verification link; `None` when the address is already verified (OAuth sign-up).
    pub verify_url: Option<Link>,
}

/// Props of [`PasswordResetEmail`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswordResetProps {
    /// Recipient's name, if known.
    pub name: Option<String>,
    /// Single-use reset link.
    pub reset_url: Link,
    /// How long the link works.
    pub expires_in: TimeDelta,
}

/// Props of [`SubscriptionConfirmedEmail`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscriptionConfirmedProps {
    /// Recipient's name, if known.
    pub name: Option<String>,
    /// Plan name (`Pro`).
    pub plan: String,
    /// Price per period, e.g. `$19.00 / month` is `Some((Money::new(1900, "usd"), "month"))`.
    pub price: Option<(Money, String)>,
    /// End of the free trial.
    pub trial_end: Option<DateTime<Utc>>,
    /// Next renewal.
    pub renews_at: Option<DateTime<Utc>>,
    /// Billing portal link.
    pub manage_url: Link,
}

/// Props of [`PaymentFailedEmail`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentFailedProps {
    /// Recipient's name, if known.
    pub name: Option<String>,
    /// What could not be collected.
    pub amount_due: Money,
    /// When Stripe retries, if it will.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Where to update the card (billing portal).
    pub update_payment_url: Link,
}

/// Props of [`TeamInviteEmail`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeamInviteProps {
    /// Who invites.
    pub inviter_name: String,
    /// Team name.
    pub team_name: String,
    /// Acceptance link.
    pub accept_url: Link,
    /// How long the invitation works.
    pub expires_in: TimeDelta,
}

/// A change to how an account signs in, reported by [`SecurityNoticeEmail`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecurityChange {
    /// Two-factor authentication was turned on.
    MfaEnabled,
    /// Two-factor authentication was turned off.
    MfaDisabled,
    /// New backup codes replaced the old ones.
    BackupCodesRegenerated,
    /// A sign-in provider (`GitHub`, `Google`, …) was linked.
    ProviderLinked {
        /// Provider display name.
        provider: String,
    },
    /// A sign-in provider was unlinked.
    ProviderUnlinked {
        /// Provider display name.
        provider: String,
    },
    /// The password was changed.
    PasswordChanged,
}

impl SecurityChange {
    /// What happened, as the start of a sentence.
    fn sentence(&self) -> String {
        match self {
            Self::MfaEnabled => "Two-factor authentication was turned on".to_owned(),
            Self::MfaDisabled => "Two-factor authentication was turned off".to_owned(),
            Self::BackupCodesRegenerated => "New two-factor backup codes were created".to_owned(),
            Self::ProviderLinked { provider } => format!("Sign-in with {provider} was added"),
            Self::ProviderUnlinked { provider } => format!("Sign-in with {provider} was removed"),
            Self::PasswordChanged => "Your password was changed".to_owned(),
        }
    }
}

/// Props of [`SecurityNoticeEmail`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecurityNoticeProps {
    /// Recipient's name, if known.
    pub name: Option<String>,
    /// What changed.
    pub change: SecurityChange,
    /// When.
    pub at: DateTime<Utc>,
    /// From which address, if known.
    pub ip: Option<String>,
    /// The single-use "this wasn't me" link.
    pub report_url: Link,
    /// How long that link works.
    pub expires_in: TimeDelta,
    /// How far back the report undoes sign-in changes.
    pub recovery_window: TimeDelta,
}

/// Props of [`EmailChangeVerificationEmail`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailChangeVerificationProps {
    /// Recipient's name, if known.
    pub name: Option<String>,
    /// The address asked for: the one this e-mail goes to.
    pub new_email: String,
    /// The single-use link that applies the change.
    pub confirm_url: Link,
    /// How long the link works.
    pub expires_in: TimeDelta,
}

/// Props of [`EmailChangedNoticeEmail`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailChangedNoticeProps {
    /// Recipient's name, if known.
    pub name: Option<String>,
    /// The account's address from now on.
    pub new_email: String,
    /// When it changed.
    pub at: DateTime<Utc>,
    /// From which address the change was asked for, if known.
    pub ip: Option<String>,
    /// The single-use "this wasn't me" link, which gives the old address back.
    pub report_url: Link,
    /// How long that link works.
    pub expires_in: TimeDelta,
}

/// Props of [`SetPasswordEmail`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetPasswordProps {
    /// Recipient's name, if known.
    pub name: Option<String>,
    /// The single-use link to the password form.
    pub set_url: Link,
    /// How long the link works.
    pub expires_in: TimeDelta,
}

/// Props of [`NewSignInAlertEmail`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSignInAlertProps {
    /// Recipient's name, if known.
    pub name: Option<String>,
    /// When the session opened.
    pub at: DateTime<Utc>,
    /// From which address, if known.
    pub ip: Option<String>,
    /// The user agent the browser sent, if any.
    pub device: Option<String>,
    /// The single-use "this wasn't me" link.
    pub report_url: Link,
    /// How long that link works.
    pub expires_in: TimeDelta,
}

/// Props of [`AccountDeletedEmail`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountDeletedProps {
    /// Recipient's name, if known.
    pub name: Option<String>,
    /// When the account was deleted.
    pub at: DateTime<Utc>,
    /// From which address the deletion was asked for, if known.
    pub ip: Option<String>,
}

/// Welcome, with the e-mail verification link when there is one.
#[derive(Clone, Copy, Debug)]
pub struct WelcomeEmail;
/// Password reset link.
#[derive(Clone, Copy, Debug)]
pub struct PasswordResetEmail;
/// Subscription started (checkout completed).
#[derive(Clone, Copy, Debug)]
pub struct SubscriptionConfirmedEmail;
/// A renewal payment failed.
#[derive(Clone, Copy, Debug)]
pub struct PaymentFailedEmail;
/// Invitation to join a team.
#[derive(Clone, Copy, Debug)]
pub struct TeamInviteEmail;
/// A sign-in change (MFA, providers, password) with a "this wasn't me" link.
#[derive(Clone, Copy, Debug)]
pub struct SecurityNoticeEmail;
/// To the new address of an e-mail change: the link that applies it.
#[derive(Clone, Copy, Debug)]
pub struct EmailChangeVerificationEmail;
/// To the old address after an e-mail change: what, when, from where, and the link that
/// gives the address back.
#[derive(Clone, Copy, Debug)]
pub struct EmailChangedNoticeEmail;
/// A first password for an account that signs in only with providers.
#[derive(Clone, Copy, Debug)]
pub struct SetPasswordEmail;
/// A sign-in from a device not seen lately, with a "this wasn't me" link.
#[derive(Clone, Copy, Debug)]
pub struct NewSignInAlertEmail;
/// The account was deleted: when, from where, and what stays.
#[derive(Clone, Copy, Debug)]
pub struct AccountDeletedEmail;

/// Declares the HTML and text askama views of a template with the same fields, plus the
/// fields the layouts use (`product`, `support`, and `subject` for the HTML `<title>`).
macro_rules! views {
    ($html:ident = $html_path:literal, $text:ident = $text_path:literal { $($field:ident: $ty:ty),* $(,)? }) => {
        #[derive(Template)]
        #[template(path = $html_path)]
        struct $html<'a> {
            subject: &'a str,
            product: &'a str,
            support: Option<&'a str>,
            $($field: $ty,)*
        }

        #[derive(Template)]
        #[template(path = $text_path)]
        struct $text<'a> {
            product: &'a str,
            support: Option<&'a str>,
            $($field: $ty,)*
        }
    };
}

views!(WelcomeHtml = "welcome.html", WelcomeText = "welcome.txt" {
    greeting: String,
    verify_url: Option<&'a str>,
});

views!(ResetHtml = "password_reset.html", ResetText = "password_reset.txt" {
    greeting: String,
    reset_url: &'a str,
    expires: String,
});

views!(ConfirmedHtml = "subscription_confirmed.html", ConfirmedText = "subscription_confirmed.txt" {
    greeting: String,
    plan: &'a str,
    price: Option<String>,
    trial_end: Option<String>,
    renews: Option<String>,
    manage_url: &'a str,
});

views!(FailedHtml = "payment_failed.html", FailedText = "payment_failed.txt" {
    greeting: String,
    amount_due: String,
    next_attempt: Option<String>,
    update_url: &'a str,
});

views!(InviteHtml = "team_invite.html", InviteText = "team_invite.txt" {
    inviter: &'a str,
    team: &'a str,
    accept_url: &'a str,
    expires: String,
});

views!(NoticeHtml = "security_notice.html", NoticeText = "security_notice.txt" {
    greeting: String,
    what: String,
    when: String,
    ip: Option<&'a str>,
    report_url: &'a str,
    expires: String,
    recovery: String,
});

views!(EmailChangeHtml = "email_change.html", EmailChangeText = "email_change.txt" {
    greeting: String,
    new_email: &'a str,
    confirm_url: &'a str,
    expires: String,
});

views!(EmailChangedHtml = "email_changed.html", EmailChangedText = "email_changed.txt" {
    greeting: String,
    new_email: &'a str,
    when: String,
    ip: Option<&'a str>,
    report_url: &'a str,
    expires: String,
});

views!(SetPasswordHtml = "set_password.html", SetPasswordText = "set_password.txt" {
    greeting: String,
    set_url: &'a str,
    expires: String,
});

views!(NewSignInHtml = "new_sign_in.html", NewSignInText = "new_sign_in.txt" {
    greeting: String,
    when: String,
    ip: Option<&'a str>,
    device: Option<&'a str>,
    report_url: &'a str,
    expires: String,
});

views!(AccountDeletedHtml = "account_deleted.html", AccountDeletedText = "account_deleted.txt" {
    greeting: String,
    when: String,
    ip: Option<&'a str>,
});

/// Fills the same field list into both views and renders them.
macro_rules! render_views {
    ($name:expr, $brand:expr, $subject:expr, $html:ident, $text:ident { $($field:ident: $value:expr),* $(,)? }) => {{
        let subject: String = $subject;
        let support = $brand.support_email.as_ref().map(Address::as_str);
        let html = $html {
            subject: &subject,
            product: &$brand.product_name,
            support,
            $($field: $value,)*
        }
        .render()
        .map_err(|e| template_error($name, e))?;
        let text = $text {
            product: &$brand.product_name,
            support,
            $($field: $value,)*
        }
        .render()
        .map_err(|e| template_error($name, e))?;
        // Template tags leave blank lines at the edges of the plain-text part.
        let text = text.trim().to_owned();
        Ok(Rendered { subject, html, text })
    }};
}

impl EmailTemplate for WelcomeEmail {
    type Props = WelcomeProps;
    const NAME: &'static str = "welcome";

    fn render(p: &WelcomeProps, brand: &Brand) -> Result<Rendered> {
        render_views!(
            Self::NAME,
            brand,
            format!("Welcome to {}", brand.product_name),
            WelcomeHtml,
            WelcomeText {
                greeting: greeting(p.name.as_deref()),
                verify_url: p.verify_url.as_ref().map(Link::as_str),
            }
        )
    }
}

impl EmailTemplate for SecurityNoticeEmail {
    type Props = SecurityNoticeProps;
    const NAME: &'static str = "security_notice";

    fn render(p: &SecurityNoticeProps, brand: &Brand) -> Result<Rendered> {
        let what = p.change.sentence();
        render_views!(
            Self::NAME,
            brand,
            format!("{what} for your {} account", brand.product_name),
            NoticeHtml,
            NoticeText {
                greeting: greeting(p.name.as_deref()),
                what: what.clone(),
                when: moment(p.at),
                ip: p.ip.as_deref(),
                report_url: p.report_url.as_str(),
                expires: humanize(p.expires_in),
                recovery: humanize(p.recovery_window),
            }
        )
    }
}

impl EmailTemplate for EmailChangeVerificationEmail {
    type Props = EmailChangeVerificationProps;
    const NAME: &'static str = "email_change_verification";

    fn render(p: &EmailChangeVerificationProps, brand: &Brand) -> Result<Rendered> {
        render_views!(
            Self::NAME,
            brand,
            format!("Confirm your new {} address", brand.product_name),
            EmailChangeHtml,
            EmailChangeText {
                greeting: greeting(p.name.as_deref()),
                new_email: &p.new_email,
                confirm_url: p.confirm_url.as_str(),
                expires: humanize(p.expires_in),
            }
        )
    }
}

impl EmailTemplate for EmailChangedNoticeEmail {
    type Props = EmailChangedNoticeProps;
    const NAME: &'static str = "email_changed_notice";

    fn render(p: &EmailChangedNoticeProps, brand: &Brand) -> Result<Rendered> {
        render_views!(
            Self::NAME,
            brand,
            format!("The address of your {} account changed", brand.product_name),
            EmailChangedHtml,
            EmailChangedText {
                greeting: greeting(p.name.as_deref()),
                new_email: &p.new_email,
                when: moment(p.at),
                ip: p.ip.as_deref(),
                report_url: p.report_url.as_str(),
                expires: humanize(p.expires_in),
            }
        )
    }
}

impl EmailTemplate for SetPasswordEmail {
    type Props = SetPasswordProps;
    const NAME: &'static str = "set_password";

    fn render(p: &SetPasswordProps, brand: &Brand) -> Result<Rendered> {
        render_views!(
            Self::NAME,
            brand,
            format!("Choose a password for {}", brand.product_name),
            SetPasswordHtml,
            SetPasswordText {
                greeting: greeting(p.name.as_deref()),
                set_url: p.set_url.as_str(),
                expires: humanize(p.expires_in),
            }
        )
    }
}

impl EmailTemplate for NewSignInAlertEmail {
    type Props = NewSignInAlertProps;
    const NAME: &'static str = "new_sign_in_alert";

    fn render(p: &NewSignInAlertProps, brand: &Brand) -> Result<Rendered> {
        render_views!(
            Self::NAME,
            brand,
            format!("New sign-in to your {} account", brand.product_name),
            NewSignInHtml,
            NewSignInText {
                greeting: greeting(p.name.as_deref()),
                when: moment(p.at),
                ip: p.ip.as_deref(),
                device: p.device.as_deref(),
                report_url: p.report_url.as_str(),
                expires: humanize(p.expires_in),
            }
        )
    }
}

impl EmailTemplate for AccountDeletedEmail {
    type Props = AccountDeletedProps;
    const NAME: &'static str = "account_deleted";

    fn render(p: &AccountDeletedProps, brand: &Brand) -> Result<Rendered> {
        render_views!(
            Self::NAME,
            brand,
            format!("Your {} account is deleted", brand.product_name),
            AccountDeletedHtml,
            AccountDeletedText {
                greeting: greeting(p.name.as_deref()),
                when: moment(p.at),
                ip: p.ip.as_deref(),
            }
        )
    }
}

impl EmailTemplate for PasswordResetEmail {
    type Props = PasswordResetProps;
    const NAME: &'static str = "password_reset";

    fn render(p: &PasswordResetProps, brand: &Brand) -> Result<Rendered> {
        render_views!(
            Self::NAME,
            brand,
            format!("Reset your {} password", brand.product_name),
            ResetHtml,
            ResetText {
                greeting: greeting(p.name.as_deref()),
                reset_url: p.reset_url.as_str(),
                expires: humanize(p.expires_in),
            }
        )
    }
}

impl EmailTemplate for SubscriptionConfirmedEmail {
    type Props = SubscriptionConfirmedProps;
    const NAME: &'static str = "subscription_confirmed";

    fn render(p: &SubscriptionConfirmedProps, brand: &Brand) -> Result<Rendered> {
        let subject = format!(
            "Your {} {} subscription is confirmed",
            brand.product_name, p.plan
        );
        render_views!(
            Self::NAME,
            brand,
            subject,
            ConfirmedHtml,
            ConfirmedText {
                greeting: greeting(p.name.as_deref()),
                plan: &p.plan,
                price: p
                    .price
                    .as_ref()
                    .map(|(money, per)| format!("{money} / {per}")),
                trial_end: p.trial_end.map(date),
                renews: p.renews_at.map(date),
                manage_url: p.manage_url.as_str(),
            }
        )
    }
}

impl EmailTemplate for PaymentFailedEmail {
    type Props = PaymentFailedProps;
    const NAME: &'static str = "payment_failed";

    fn render(p: &PaymentFailedProps, brand: &Brand) -> Result<Rendered> {
        let subject = format!("Action needed: your {} payment failed", brand.product_name);
        render_views!(
            Self::NAME,
            brand,
            subject,
            FailedHtml,
            FailedText {
                greeting: greeting(p.name.as_deref()),
                amount_due: p.amount_due.to_string(),
                next_attempt: p.next_attempt_at.map(date),
                update_url: p.update_payment_url.as_str(),
            }
        )
    }
}

impl EmailTemplate for TeamInviteEmail {
    type Props = TeamInviteProps;
    const NAME: &'static str = "team_invite";

    fn render(p: &TeamInviteProps, brand: &Brand) -> Result<Rendered> {
        let subject = format!(
            "{} invited you to join {} on {}",
            p.inviter_name, p.team_name, brand.product_name
        );
        render_views!(
            Self::NAME,
            brand,
            subject,
            InviteHtml,
            InviteText {
                inviter: &p.inviter_name,
                team: &p.team_name,
                accept_url: p.accept_url.as_str(),
                expires: humanize(p.expires_in),
            }
        )
    }
}

fn template_error(template: &'static str, err: askama::Error) -> EmailError {
    EmailError::Template {
        template,
        source: Box::new(err),
    }
}

fn greeting(name: Option<&str>) -> String {
    match name.map(str::trim) {
        Some(name) if !name.is_empty() => format!("Hi {name},"),
        _ => "Hi,".to_owned(),
    }
}

fn date(t: DateTime<Utc>) -> String {
    t.format("%B %-d, %Y").to_string()
}

/// `December 1, 2026 at 21:05 UTC`.
fn moment(t: DateTime<Utc>) -> String {
    t.format("%B %-d, %Y at %H:%M UTC").to_string()
}

/// `1 hour`, `24 hours`, `7 days`, `30 minutes`.
fn humanize(d: TimeDelta) -> String {
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    let minutes = d.num_minutes().max(1);
    if minutes % (24 * 60) == 0 && minutes >= 2 * 24 * 60 {
        plural(minutes / (24 * 60), "day")
    } else if minutes % 60 == 0 {
        plural(minutes / 60, "hour")
    } else {
        plural(minutes, "minute")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(humanize(TimeDelta::hours(1)), "1 hour");
        assert_eq!(humanize(TimeDelta::hours(24)), "24 hours");
        assert_eq!(humanize(TimeDelta::days(7)), "7 days");
        assert_eq!(humanize(TimeDelta::minutes(30)), "30 minutes");
        assert_eq!(humanize(TimeDelta::seconds(5)), "1 minute");
    }

    #[test]
    fn greetings() {
        assert_eq!(greeting(Some(" Ada ")), "Hi Ada,");
        assert_eq!(greeting(Some("  ")), "Hi,");
        assert_eq!(greeting(None), "Hi,");
    }
}
