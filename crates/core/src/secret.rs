//! Secret newtypes, from one macro (the idea of oauth2-rs's `new_secret_type!`).

/// Declares a newtype over a secret `String`: `new`, `expose_secret` (the only way to read
/// it, so every use is greppable), `Clone`, `PartialEq`, and a `Debug` that never shows it.
///
/// ```
/// tollbooth_core::secret_type! {
///     /// An API key.
///     pub struct ApiKey;
/// }
/// let key = ApiKey::new("sk_live_123");
/// assert_eq!(format!("{key:?}"), "ApiKey([redacted])");
/// assert_eq!(key.expose_secret(), "sk_live_123");
/// ```
#[macro_export]
macro_rules! secret_type {
    ($(#[$meta:meta])* $vis:vis struct $name:ident;) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq)]
        $vis struct $name(String);

        impl $name {
            /// Wraps a secret.
            pub fn new(secret: impl Into<String>) -> Self {
                Self(secret.into())
            }

            /// The secret itself. Never log it.
            pub fn expose_secret(&self) -> &str {
                &self.0
            }
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}
