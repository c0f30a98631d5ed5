//! E-mail addresses and mailboxes (`Name <address>`), validated on construction.

use std::fmt;

use email_address::{EmailAddress, Options};

use crate::error::{EmailError, Result};

/// Most recipients one message may have (Resend's limit).
pub const MAX_RECIPIENTS: usize = 50;

/// A syntactically valid e-mail address (RFC 5322 addr-spec with a dotted domain), free of
/// control characters, at most 254 bytes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Address(String);

impl Address {
    /// Parses a bare address (no display name). `field` names the input in errors.
    pub fn parse(address: &str, field: &'static str) -> Result<Self> {
        reject_control_chars(address, field)?;
        let address = address.trim();
        let options = Options {
            minimum_sub_domains: 2,
            allow_domain_literal: false,
            allow_display_text: false,
            ..Options::default()
        };
        if address.len() > 254 || EmailAddress::parse_with_options(address, options).is_err() {
            return Err(EmailError::InvalidAddress { field });
        }
        Ok(Self(address.to_owned()))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An address with an optional display name: `ada@example.com` or `Ada <ada@example.com>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Mailbox {
    name: Option<String>,
    address: Address,
}

impl Mailbox {
    /// Parses `address` or `Display Name <address>` (the name may be double-quoted).
    pub fn parse(mailbox: &str, field: &'static str) -> Result<Self> {
        reject_control_chars(mailbox, field)?;
        let mailbox = mailbox.trim();
        let Some(open) = mailbox.rfind('<') else {
            return Ok(Self {
                name: None,
                address: Address::parse(mailbox, field)?,
            });
        };
        let inner = mailbox[open + 1..]
            .strip_suffix('>')
            .ok_or(EmailError::InvalidAddress { field })?;
        let name = mailbox[..open].trim();
        let name = name
            .strip_prefix('"')
            .and_then(|n| n.strip_suffix('"'))
            .unwrap_or(name)
            .trim();
        if name.contains(['<', '>', '"']) {
            return Err(EmailError::InvalidAddress { field });
        }
        Ok(Self {
            name: (!name.is_empty()).then(|| name.to_owned()),
            address: Address::parse(inner, field)?,
        })
    }

    /// A mailbox from parts.
    pub fn new(name: Option<String>, address: Address) -> Result<Self> {
        if let Some(name) = &name {
            reject_control_chars(name, "name")?;
        }
        Ok(Self { name, address })
    }

    /// The display name.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The address.
    pub fn address(&self) -> &Address {
        &self.address
    }
}

impl fmt::Display for Mailbox {
    /// RFC 5322 form; the name is quoted when it contains specials (`Acme, Inc.`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            None => write!(f, "{}", self.address),
            Some(name) if name.contains(|c: char| "()<>[]:;@\\,.\"".contains(c)) => {
                let escaped = name.replace('\\', "\\\\").replace('"', "\\\"");
                write!(f, "\"{escaped}\" <{}>", self.address)
            }
            Some(name) => write!(f, "{name} <{}>", self.address),
        }
    }
}

/// Recipients as given by a caller; parsed into [`Mailbox`]es when the message is built.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Recipients(pub(crate) Vec<String>);

impl From<&str> for Recipients {
    fn from(to: &str) -> Self {
        Self(vec![to.to_owned()])
    }
}

impl From<String> for Recipients {
    fn from(to: String) -> Self {
        Self(vec![to])
    }
}

impl From<&String> for Recipients {
    fn from(to: &String) -> Self {
        Self(vec![to.clone()])
    }
}

impl From<Vec<String>> for Recipients {
    fn from(to: Vec<String>) -> Self {
        Self(to)
    }
}

impl From<&[&str]> for Recipients {
    fn from(to: &[&str]) -> Self {
        Self(to.iter().map(|s| (*s).to_owned()).collect())
    }
}

impl<const N: usize> From<[&str; N]> for Recipients {
    fn from(to: [&str; N]) -> Self {
        Self(to.iter().map(|s| (*s).to_owned()).collect())
    }
}

impl From<&Address> for Recipients {
    fn from(to: &Address) -> Self {
        Self(vec![to.0.clone()])
    }
}

impl Recipients {
    /// Validates every recipient and the count (1 to [`MAX_RECIPIENTS`]).
    pub(crate) fn parse(self) -> Result<Vec<Mailbox>> {
        match self.0.len() {
            0 => return Err(EmailError::NoRecipient),
            count if count > MAX_RECIPIENTS => {
                return Err(EmailError::TooManyRecipients {
                    count,
                    max: MAX_RECIPIENTS,
                });
            }
            _ => {}
        }
        self.0.iter().map(|to| Mailbox::parse(to, "to")).collect()
    }
}

/// CR and LF end a header line (header injection); no other control character belongs in a
/// header either.
pub(crate) fn reject_control_chars(value: &str, field: &'static str) -> Result<()> {
    if value.chars().any(char::is_control) {
        return Err(EmailError::HeaderInjection { field });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        for ok in [
            "ada@example.com",
            " ada+tag@mail.example.co.uk ",
            "o'brien@example.org",
        ] {
            assert!(Address::parse(ok, "to").is_ok(), "{ok}");
        }
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@localhost",
            "ada@[127.0.0.1]",
            "Ada <ada@example.com>",
            "ada@exa mple.com",
        ] {
            assert!(
                matches!(
                    Address::parse(bad, "to"),
                    Err(EmailError::InvalidAddress { field: "to" })
                ),
                "{bad}"
            );
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Address::parse(&long, "to").is_err());
    }

    #[test]
    fn header_injection_is_refused_before_parsing() {
        for bad in [
            "ada@example.com\r\nBcc: all@example.com",
            "ada@example.com\n",
            "a\0@example.com",
        ] {
            assert!(matches!(
                Mailbox::parse(bad, "to"),
                Err(EmailError::HeaderInjection { field: "to" })
            ));
        }
    }

    #[test]
    fn mailboxes() {
        let m = Mailbox::parse("Acme <noreply@acme.example>", "from").unwrap();
        assert_eq!(
            (m.name(), m.address().as_str()),
            (Some("Acme"), "noreply@acme.example")
        );
        assert_eq!(m.to_string(), "Acme <noreply@acme.example>");

        let m = Mailbox::parse("\"Acme, Inc.\" <noreply@acme.example>", "from").unwrap();
        assert_eq!(m.name(), Some("Acme, Inc."));
        assert_eq!(m.to_string(), "\"Acme, Inc.\" <noreply@acme.example>");

        let m = Mailbox::parse("noreply@acme.example", "from").unwrap();
        assert_eq!(
            (m.name(), m.to_string().as_str()),
            (None, "noreply@acme.example")
        );

        for bad in [
            "Acme <noreply@acme.example",
            "A<b <noreply@acme.example>",
            "Acme <>",
        ] {
            assert!(Mailbox::parse(bad, "from").is_err(), "{bad}");
        }
    }

    #[test]
    fn recipient_counts() {
        assert!(matches!(
            Recipients::default().parse(),
            Err(EmailError::NoRecipient)
        ));
        let fifty: Vec<String> = (0..50).map(|i| format!("u{i}@example.com")).collect();
        assert_eq!(Recipients::from(fifty.clone()).parse().unwrap().len(), 50);
        let mut fifty_one = fifty;
        fifty_one.push("late@example.com".to_owned());
        assert!(matches!(
            Recipients::from(fifty_one).parse(),
            Err(EmailError::TooManyRecipients { count: 51, max: 50 })
        ));
    }
}
