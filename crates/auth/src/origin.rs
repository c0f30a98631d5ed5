//! Cross-site request forgery defence beyond `SameSite=Strict`: state-changing requests
//! must come from the application's own origin.

use crate::error::{AuthError, Result};
use crate::headers::HeaderView;
use crate::service::Auth;

impl Auth {
    /// Refuses a state-changing request (anything but GET, HEAD, OPTIONS) that a browser
    /// sent from another site: `Sec-Fetch-Site` must be `same-origin` (or `none`, a
    /// user-initiated navigation), else `Origin` must be the configured public origin.
    /// Requests with neither header are not from a modern browser (curl, server-to-server
    /// clients) and pass: cross-site browser requests always carry them, and the session
    /// cookie is `SameSite=Strict` besides. Webhook endpoints, which are called cross-site
    /// by design and authenticated by signatures, must not be behind this check.
    pub fn check_origin(&self, method: &str, headers: &dyn HeaderView) -> Result<()> {
        if matches!(method, "GET" | "HEAD" | "OPTIONS") {
            return Ok(());
        }
        let forbidden = || {
            tracing::warn!(method, "cross-site request refused");
            Err(AuthError::Forbidden)
        };
        if let Some(site) = headers.header_values("sec-fetch-site").first() {
            return match site.trim() {
                "same-origin" | "none" => Ok(()),
                _ => forbidden(),
            };
        }
        match headers.header_values("origin").first() {
            None => Ok(()),
            Some(origin) if origin.trim() == self.inner.config.public_base_url.origin() => Ok(()),
            Some(_) => forbidden(),
        }
    }
}
