//! The HTTP client for providers: no redirects (a token endpoint that redirects is
//! misconfigured or hostile), bounded timeouts, and an adapter for the oauth2 crate.

use std::time::Duration;

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .user_agent(concat!("tollbooth/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("static HTTP client configuration")
}

/// oauth2's HTTP client interface over our reqwest client (oauth2 ships an adapter only for
/// its own reqwest version). A named type with an explicitly `Send` future: a closure here
/// makes every future awaiting the exchange `!Send` (rustc's higher-ranked lifetime
/// inference), which web frameworks refuse.
pub(crate) struct OAuthHttp<'a>(pub(crate) &'a reqwest::Client);

impl<'c> oauth2::AsyncHttpClient<'c> for OAuthHttp<'_> {
    type Error = reqwest::Error;
    type Future = std::pin::Pin<
        Box<
            dyn std::future::Future<Output = Result<oauth2::HttpResponse, reqwest::Error>>
                + Send
                + 'c,
        >,
    >;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(execute(self.0, request))
    }
}

async fn execute(
    client: &reqwest::Client,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, reqwest::Error> {
    let (parts, body) = request.into_parts();
    let response = client
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await?;
    let mut builder = http::Response::builder().status(response.status());
    if let Some(headers) = builder.headers_mut() {
        headers.extend(response.headers().clone());
    }
    let body = response.bytes().await?.to_vec();
    Ok(builder
        .body(body)
        .expect("status and headers come from a valid response"))
}
