//! Every template renders a subject, an HTML part and a text part; props are escaped.

use chrono::{TimeDelta, TimeZone, Utc};
use tollbooth_email::*;

fn brand() -> Brand {
    Brand::new("Acme").support_email(Address::parse("help@acme.example", "support").unwrap())
}

fn base() -> PublicBaseUrl {
    PublicBaseUrl::parse("https://app.acme.example").unwrap()
}

/// What every rendered e-mail must have.
fn assert_well_formed(r: &Rendered) {
    assert!(!r.subject.trim().is_empty());
    assert!(r.html.starts_with("<!DOCTYPE html>"), "{}", r.html);
    assert!(
        r.html
            .contains(&format!("<title>{}</title>", escape(&r.subject)))
    );
    assert!(
        r.html.contains("mailto:help@acme.example"),
        "support address in the footer"
    );
    assert!(r.text.contains("Questions? Write to help@acme.example."));
    assert!(
        !r.text.contains('<'),
        "text part has no markup:\n{}",
        r.text
    );
    // Every link in either part is absolute https.
    for part in [&r.html, &r.text] {
        for (i, _) in part.match_indices("://") {
            let scheme_start = part[..i]
                .rfind(|c: char| !c.is_ascii_alphabetic())
                .map_or(0, |p| p + 1);
            assert_eq!(
                &part[scheme_start..i],
                "https",
                "non-https link in:\n{part}"
            );
        }
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

#[test]
fn welcome_with_and_without_verification_link() {
    let link = base().link("/verify-email", &[("token", "abc"), ("next", "/a&b")]);
    let r = WelcomeEmail::render(
        &WelcomeProps {
            name: Some("Ada".into()),
            verify_url: Some(link.clone()),
        },
        &brand(),
    )
    .unwrap();
    assert_well_formed(&r);
    assert_eq!(r.subject, "Welcome to Acme");
    assert!(r.html.contains("<p>Hi Ada,</p>"));
    // The `&` of the query is escaped inside the attribute; the browser decodes it back.
    let href = link.as_str().replace('&', "&#38;");
    assert_eq!(
        r.html.matches(&format!("href=\"{href}\"")).count(),
        2,
        "button + fallback link"
    );
    assert!(r.text.contains(&format!("\n{link}\n")), "{}", r.text);
    assert!(
        r.text
            .starts_with("Hi Ada,\n\nWelcome to Acme! Your account is ready."),
        "{:?}",
        r.text
    );

    let r = WelcomeEmail::render(
        &WelcomeProps {
            name: None,
            verify_url: None,
        },
        &brand(),
    )
    .unwrap();
    assert_well_formed(&r);
    assert!(r.html.contains("<p>Hi,</p>"));
    assert!(!r.html.to_lowercase().contains("verify"));
    assert!(!r.text.to_lowercase().contains("verify"));
}

#[test]
fn password_reset_text_is_exactly_this() {
    let r = PasswordResetEmail::render(
        &PasswordResetProps {
            name: Some("Ada".into()),
            reset_url: base().link("/reset-password", &[("token", "t0k3n")]),
            expires_in: TimeDelta::hours(1),
        },
        &brand(),
    )
    .unwrap();
    assert_well_formed(&r);
    assert_eq!(r.subject, "Reset your Acme password");
    assert_eq!(
        r.text,
        "Hi Ada,\n\nSomeone asked to reset the password of your Acme account. If it was you, choose a new \
         password here (the link works once and expires in 1 hour):\n\n\
         https://app.acme.example/reset-password?token=t0k3n\n\n\
         If you did not ask for this, ignore this e-mail: your password stays as it is.\n\n\
         --\nYou received this e-mail because of your Acme account. Questions? Write to help@acme.example."
    );
    assert!(r.html.contains("expires in 1 hour"));
}

#[test]
fn subscription_confirmed_shows_price_trial_and_portal() {
    let r = SubscriptionConfirmedEmail::render(
        &SubscriptionConfirmedProps {
            name: None,
            plan: "Pro".into(),
            price: Some((Money::new(1900, "usd"), "month".into())),
            trial_end: Some(Utc.with_ymd_and_hms(2026, 12, 9, 12, 0, 0).unwrap()),
            renews_at: Some(Utc.with_ymd_and_hms(2027, 1, 9, 12, 0, 0).unwrap()),
            manage_url: Link::parse("https://billing.stripe.com/p/session/test_1").unwrap(),
        },
        &brand(),
    )
    .unwrap();
    assert_well_formed(&r);
    assert_eq!(r.subject, "Your Acme Pro subscription is confirmed");
    for part in [&r.html, &r.text] {
        assert!(part.contains("$19.00 / month"), "{part}");
        assert!(part.contains("Free trial until December 9, 2026"));
        assert!(part.contains("Next renewal: January 9, 2027"));
        assert!(part.contains("https://billing.stripe.com/p/session/test_1"));
    }
    assert!(r.html.contains("<strong>Pro</strong>"));
}

#[test]
fn payment_failed_shows_amount_and_retry_date() {
    let r = PaymentFailedEmail::render(
        &PaymentFailedProps {
            name: Some("Ada".into()),
            amount_due: Money::new(4900, "eur"),
            next_attempt_at: Some(Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap()),
            update_payment_url: base().link("/billing", &[]),
        },
        &brand(),
    )
    .unwrap();
    assert_well_formed(&r);
    assert_eq!(r.subject, "Action needed: your Acme payment failed");
    assert!(r.html.contains("<strong>€49.00</strong>"));
    assert!(
        r.text
            .contains("payment of €49.00. We will try again on December 1, 2026.")
    );
    assert!(r.text.contains("https://app.acme.example/billing"));
}

#[test]
fn team_invite_names_inviter_team_and_expiry() {
    let r = TeamInviteEmail::render(
        &TeamInviteProps {
            inviter_name: "Grace".into(),
            team_name: "Engines".into(),
            accept_url: base().link("/invites/accept", &[("token", "xyz")]),
            expires_in: TimeDelta::days(7),
        },
        &brand(),
    )
    .unwrap();
    assert_well_formed(&r);
    assert_eq!(r.subject, "Grace invited you to join Engines on Acme");
    assert!(
        r.html.contains(
            "<strong>Grace</strong> invited you to join the team <strong>Engines</strong>"
        )
    );
    assert!(r.text.contains("expires in 7 days"));
}

#[test]
fn props_are_html_escaped() {
    let evil = "<script>alert('x')</script>\"><img src=x onerror=alert(1)>";
    let r = TeamInviteEmail::render(
        &TeamInviteProps {
            inviter_name: evil.into(),
            team_name: evil.into(),
            accept_url: base().link("/invites/accept", &[("token", "\"><script>")]),
            expires_in: TimeDelta::days(1),
        },
        &brand(),
    )
    .unwrap();
    assert!(!r.html.contains("<script>"), "{}", r.html);
    assert!(!r.html.contains("<img"), "{}", r.html);
    assert!(
        r.html
            .contains("&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62;"),
        "{}",
        r.html
    );
    // The query value is percent-encoded in the URL itself.
    assert!(r.html.contains("token=%22%3E%3Cscript%3E"));
    // Subjects are plain text (not HTML); CR/LF there is refused when the message is built.
    assert!(r.subject.contains("<script>"));
    let r = WelcomeEmail::render(
        &WelcomeProps {
            name: Some(evil.into()),
            verify_url: None,
        },
        &brand(),
    )
    .unwrap();
    assert!(!r.html.contains("<script>"));
    assert!(
        r.text.contains(evil),
        "text part is not HTML and shows the name as given"
    );
}

#[test]
fn security_notice_says_what_when_where_and_how_to_undo_it() {
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 21, 5, 0).unwrap();
    let props = |change| SecurityNoticeProps {
        name: Some("Ada & Co".into()),
        change,
        at,
        ip: Some("203.0.113.7".into()),
        report_url: base().link("/security-report", &[("token", "t0k")]),
        expires_in: TimeDelta::days(7),
        recovery_window: TimeDelta::hours(24),
    };
    let r = SecurityNoticeEmail::render(&props(SecurityChange::MfaEnabled), &brand()).unwrap();
    assert_well_formed(&r);
    assert_eq!(
        r.subject,
        "Two-factor authentication was turned on for your Acme account"
    );
    for part in [&r.text, &r.html] {
        assert!(part.contains("December 1, 2026 at 21:05 UTC"), "{part}");
        assert!(part.contains("203.0.113.7"), "{part}");
        assert!(
            part.contains("https://app.acme.example/security-report?token=t0k"),
            "{part}"
        );
        assert!(
            part.contains("24 hours") && part.contains("7 days"),
            "{part}"
        );
    }
    assert!(r.html.contains("Hi Ada &#38; Co,"), "escaped: {}", r.html);
    let linked = SecurityChange::ProviderLinked {
        provider: "Git<Hub>".into(),
    };
    let r = SecurityNoticeEmail::render(&props(linked), &brand()).unwrap();
    assert!(
        r.html.contains("Sign-in with Git&#60;Hub&#62; was added"),
        "{}",
        r.html
    );
    for (change, subject) in [
        (
            SecurityChange::MfaDisabled,
            "Two-factor authentication was turned off",
        ),
        (
            SecurityChange::BackupCodesRegenerated,
            "New two-factor backup codes were created",
        ),
        (SecurityChange::PasswordChanged, "Your password was changed"),
    ] {
        let r = SecurityNoticeEmail::render(&props(change), &brand()).unwrap();
        assert_eq!(r.subject, format!("{subject} for your Acme account"));
    }
}

#[test]
fn email_change_verification_goes_to_the_new_address_and_changes_nothing_yet() {
    let r = EmailChangeVerificationEmail::render(
        &EmailChangeVerificationProps {
            name: Some("Ada & Co".into()),
            new_email: "ada+new@example.com".into(),
            confirm_url: base().link("/confirm-email-change", &[("token", "t0k")]),
            expires_in: TimeDelta::hours(1),
        },
        &brand(),
    )
    .unwrap();
    assert_well_formed(&r);
    assert_eq!(r.subject, "Confirm your new Acme address");
    assert_eq!(
        r.text,
        "Hi Ada & Co,\n\nSomeone asked to make ada+new@example.com the address of your Acme account. If it \
         was you, confirm it here (the link works once and expires in 1 hour):\n\n\
         https://app.acme.example/confirm-email-change?token=t0k\n\n\
         Nothing changes until the link is opened. If you did not ask for this, ignore this e-mail.\n\n\
         --\nYou received this e-mail because of your Acme account. Questions? Write to help@acme.example."
    );
    assert!(r.html.contains("<p>Hi Ada &#38; Co,</p>"), "{}", r.html);
    assert!(
        r.html
            .contains("href=\"https://app.acme.example/confirm-email-change?token=t0k\"")
    );
}

#[test]
fn email_changed_notice_says_to_what_when_where_and_how_to_take_it_back() {
    let props = |ip: Option<&str>| EmailChangedNoticeProps {
        name: None,
        new_email: "someone@example.net".into(),
        at: Utc.with_ymd_and_hms(2026, 12, 7, 9, 30, 0).unwrap(),
        ip: ip.map(str::to_owned),
        report_url: base().link("/security-report", &[("token", "r3p")]),
        expires_in: TimeDelta::days(7),
    };
    let r = EmailChangedNoticeEmail::render(&props(Some("198.51.100.4")), &brand()).unwrap();
    assert_well_formed(&r);
    assert_eq!(r.subject, "The address of your Acme account changed");
    for part in [&r.text, &r.html] {
        assert!(
            part.contains(
                "changed to someone@example.net on December 7, 2026 at 09:30 UTC, from the address 198.51.100.4."
            ),
            "{part}"
        );
        assert!(
            part.contains("gives your account this address back"),
            "{part}"
        );
        assert!(
            part.contains("https://app.acme.example/security-report?token=r3p"),
            "{part}"
        );
        assert!(part.contains("expires in 7 days"), "{part}");
    }
    assert!(r.text.starts_with("Hi,\n\n"), "{}", r.text);
    let r = EmailChangedNoticeEmail::render(&props(None), &brand()).unwrap();
    assert!(r.text.contains("09:30 UTC. Sign-in"), "{}", r.text);
    assert!(!r.text.contains("from the address"));
}

#[test]
fn set_password_offers_a_password_besides_the_provider() {
    let r = SetPasswordEmail::render(
        &SetPasswordProps {
            name: Some("Ada & Co".into()),
            set_url: base().link("/reset-password", &[("token", "s3t")]),
            expires_in: TimeDelta::hours(1),
        },
        &brand(),
    )
    .unwrap();
    assert_well_formed(&r);
    assert_eq!(r.subject, "Choose a password for Acme");
    assert!(r.html.contains("<p>Hi Ada &#38; Co,</p>"), "{}", r.html);
    for part in [&r.text, &r.html] {
        assert!(
            part.contains("you sign in to with a provider today"),
            "{part}"
        );
        assert!(part.contains("expires in 1 hour"), "{part}");
        assert!(
            part.contains("https://app.acme.example/reset-password?token=s3t"),
            "{part}"
        );
    }
}

#[test]
fn new_sign_in_alert_says_when_where_what_and_how_to_stop_it() {
    let props = |device: Option<&str>| NewSignInAlertProps {
        name: Some("Ada".into()),
        at: Utc.with_ymd_and_hms(2026, 12, 7, 2, 15, 0).unwrap(),
        ip: Some("198.51.100.23".into()),
        device: device.map(str::to_owned),
        report_url: base().link("/security-report", &[("token", "n3w")]),
        expires_in: TimeDelta::days(7),
    };
    let r = NewSignInAlertEmail::render(&props(Some("Firefox on Linux")), &brand()).unwrap();
    assert_well_formed(&r);
    assert_eq!(r.subject, "New sign-in to your Acme account");
    for part in [&r.text, &r.html] {
        assert!(
            part.contains(
                "from a device we have not seen lately, on December 7, 2026 at 02:15 UTC, from the address 198.51.100.23."
            ),
            "{part}"
        );
        assert!(
            part.contains("The browser said: Firefox on Linux"),
            "{part}"
        );
        assert!(
            part.contains("https://app.acme.example/security-report?token=n3w"),
            "{part}"
        );
    }
    let evil = NewSignInAlertEmail::render(&props(Some("<script>x</script>")), &brand()).unwrap();
    assert!(
        evil.html.contains("&#60;script&#62;x&#60;/script&#62;"),
        "{}",
        evil.html
    );
    let r = NewSignInAlertEmail::render(&props(None), &brand()).unwrap();
    assert!(!r.text.contains("The browser said"));
}

#[test]
fn account_deleted_says_when_where_and_what_stays() {
    let props = AccountDeletedProps {
        name: Some("Ada".into()),
        at: Utc.with_ymd_and_hms(2026, 12, 7, 2, 15, 0).unwrap(),
        ip: Some("198.51.100.23".into()),
    };
    let r = AccountDeletedEmail::render(&props, &brand()).unwrap();
    assert_well_formed(&r);
    assert_eq!(r.subject, "Your Acme account is deleted");
    for part in [&r.text, &r.html] {
        assert!(
            part.contains(
                "was deleted on December 7, 2026 at 02:15 UTC, at a request from the address 198.51.100.23."
            ),
            "{part}"
        );
        assert!(
            part.contains("sign-in methods, sessions and settings are gone"),
            "{part}"
        );
        assert!(part.contains("such as payments, stay"), "{part}");
    }
    let evil = AccountDeletedProps {
        name: Some("<b>Ada</b>".into()),
        ..props.clone()
    };
    let r = AccountDeletedEmail::render(&evil, &brand()).unwrap();
    assert!(r.html.contains("&#60;b&#62;Ada"), "{}", r.html);
    let r =
        AccountDeletedEmail::render(&AccountDeletedProps { ip: None, ..props }, &brand()).unwrap();
    assert!(!r.text.contains("from the address"), "{}", r.text);
}
