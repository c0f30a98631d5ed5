//! The user's own profile: display name and avatar URL.

use tollbooth_db::{User, UserRepo};

use crate::credentials::clean_name;
use crate::error::{AuthError, Result};
use crate::service::Auth;
use crate::session::Session;

const MAX_IMAGE_URL_BYTES: usize = 2048;

/// What to change in a profile: a field left `None` keeps its value, an empty string
/// clears it.
///
/// ```
/// let update = tollbooth_auth::ProfileUpdate::new().name("Ada Lovelace").image("");
/// # let _ = update;
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProfileUpdate {
    name: Option<String>,
    image: Option<String>,
}

impl ProfileUpdate {
    /// Changes nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The display name: at most 100 characters, no control characters; empty clears it.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The avatar: an `https` URL of at most 2048 bytes; empty clears it.
    #[must_use]
    pub fn image(mut self, url: impl Into<String>) -> Self {
        self.image = Some(url.into());
        self
    }
}

impl Auth {
    /// Changes the signed-in user's display name and avatar URL, after checking both
    /// ([`AuthError::InvalidInput`] on `name` or `image`, and nothing changes). Templates
    /// and pages escape them; the image must be `https` so a page showing it is never mixed
    /// content nor a `javascript:` or `data:` URL.
    pub async fn update_profile(&self, session: &Session, update: ProfileUpdate) -> Result<User> {
        let user = &session.user;
        let name = match update.name {
            Some(name) => clean_name(Some(&name))?,
            None => user.name.clone(),
        };
        let image = match update.image {
            Some(url) => clean_image(&url)?,
            None => user.image.clone(),
        };
        let updated = self
            .inner
            .db
            .set_user_profile(user.id, name, image)
            .await?
            .ok_or(AuthError::Unauthorized)?; // deleted meanwhile
        tracing::info!(user_id = %user.id, "profile updated");
        Ok(updated)
    }
}

fn clean_image(url: &str) -> Result<Option<String>> {
    let url = url.trim();
    if url.is_empty() {
        return Ok(None);
    }
    let refused = AuthError::InvalidInput {
        field: "image",
        reason: "an https URL of at most 2048 bytes",
    };
    if url.len() > MAX_IMAGE_URL_BYTES {
        return Err(refused);
    }
    match url::Url::parse(url) {
        Ok(parsed) if parsed.scheme() == "https" && parsed.host().is_some() => {
            Ok(Some(parsed.to_string()))
        }
        _ => Err(refused),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_urls_make_an_avatar() {
        assert_eq!(
            clean_image(" https://cdn.example.com/a.png ").unwrap(),
            Some("https://cdn.example.com/a.png".to_owned())
        );
        assert_eq!(clean_image("").unwrap(), None);
        for refused in [
            "http://cdn.example.com/a.png",
            "javascript:alert(1)",
            "data:image/png;base64,AAAA",
            "//cdn.example.com/a.png",
            "not a url",
            "https://",
        ] {
            assert!(clean_image(refused).is_err(), "{refused}");
        }
        let long = format!("https://cdn.example.com/{}", "a".repeat(2048));
        assert!(clean_image(&long).is_err());
    }
}
