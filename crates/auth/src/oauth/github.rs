//! GitHub: the user comes from `/user`, the e-mail from `/user/emails` (primary AND
//! verified only), the account key is GitHub's numeric id (logins can change).

use serde::Deserialize;

use super::Identity;
use super::config::ProviderConfig;
use crate::error::{AuthError, Result};

#[derive(Deserialize)]
struct User {
    id: u64,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    avatar_url: Option<String>,
}

#[derive(Deserialize)]
struct Email {
    email: String,
    #[serde(default)]
    primary: bool,
    #[serde(default)]
    verified: bool,
}

pub(crate) async fn identity(
    http: &reqwest::Client,
    config: &ProviderConfig,
    access_token: &str,
) -> Result<Identity> {
    let base = config.api_base.trim_end_matches('/');
    let user: User = get(http, &format!("{base}/user"), access_token).await?;
    let emails: Vec<Email> = get(http, &format!("{base}/user/emails"), access_token).await?;
    let verified_email = emails
        .into_iter()
        .find(|e| e.primary && e.verified)
        .map(|e| e.email);
    Ok(Identity {
        account_id: user.id.to_string(),
        verified_email,
        name: user.name,
        image: user.avatar_url,
    })
}

async fn get<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    token: &str,
) -> Result<T> {
    let response = http
        .get(url)
        .bearer_auth(token)
        .header("Accept", "application/vnd.github+json")
        .header("X-GitHub-Api-Version", "2022-11-28")
        .send()
        .await
        .map_err(|e| AuthError::ProviderUnavailable {
            source: Box::new(e),
        })?;
    let status = response.status();
    if status.is_server_error() {
        return Err(AuthError::ProviderUnavailable {
            source: format!("GitHub answered {status}").into(),
        });
    }
    if !status.is_success() {
        return Err(AuthError::OAuthRejected {
            reason: format!("GitHub {url} answered {status}"),
        });
    }
    response.json().await.map_err(|e| AuthError::OAuthRejected {
        reason: format!("unexpected GitHub response from {url}: {e}"),
    })
}
