//! E-mail address handling on arbitrary strings: `Address::parse`, `Mailbox::parse` and
//! `tollbooth_db::normalize_email`. What they accept ends up in message headers (injection)
//! and in the users table (account identity).

#![no_main]

use libfuzzer_sys::fuzz_target;
use tollbooth_email::{Address, Mailbox};

/// What every accepted address must be.
fn check_address(address: &Address, input: &str) {
    let s = address.as_str();
    assert!(
        !s.contains(['\r', '\n', '\0']),
        "accepted an address with CR, LF or NUL: {input:?}"
    );
    assert!(
        !s.chars().any(char::is_control),
        "accepted an address with a control character: {input:?}"
    );
    assert!(s.len() <= 254, "accepted a {}-byte address", s.len());
    assert_eq!(s, s.trim(), "accepted address not trimmed: {input:?}");
    // Parsing what was accepted gives it back.
    let again = Address::parse(s, "to");
    assert!(
        matches!(&again, Ok(a) if a == address),
        "accepted address {s:?} does not parse again: {again:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data).into_owned();

    if let Ok(address) = Address::parse(&input, "to") {
        check_address(&address, &input);
    }

    if let Ok(mailbox) = Mailbox::parse(&input, "from") {
        check_address(mailbox.address(), &input);
        if let Some(name) = mailbox.name() {
            assert!(
                !name.chars().any(char::is_control),
                "accepted a display name with a control character: {input:?}"
            );
        }
        let header = mailbox.to_string();
        assert!(
            !header.contains(['\r', '\n', '\0']),
            "a mailbox renders with CR, LF or NUL: {input:?} -> {header:?}"
        );
    }

    match tollbooth_db::normalize_email(&input) {
        Ok(normalized) => assert!(
            !normalized.is_empty() && !input.trim().is_empty(),
            "normalize_email accepted a blank address: {input:?}"
        ),
        Err(_) => assert!(
            input.trim().is_empty(),
            "normalize_email refused a non-blank address: {input:?}"
        ),
    }
});
