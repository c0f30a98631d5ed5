//! The request rules of the contract, framework-neutral: a JSON body must be declared
//! `application/json` and be a JSON object, a form body (the pages') declared
//! `application/x-www-form-urlencoded`, a query is read by name (the first of a repeated
//! name wins). The [`axum`](crate::axum) and [`actix`](crate::actix) extractors apply them, so
//! both servers refuse the same requests with the same errors.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ApiError;

/// Largest request body accepted (webhooks included).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// 415 unless the body is declared `media_type` (parameters such as `charset` aside).
fn declared(content_type: Option<&str>, media_type: &str) -> Result<(), ApiError> {
    let declared = content_type.is_some_and(|value| {
        value
            .trim_start()
            .to_ascii_lowercase()
            .starts_with(media_type)
    });
    if declared {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType)
    }
}

/// A JSON body as `T`: 415 unless declared `application/json`, 400 unless a JSON object
/// that is a `T`.
pub fn json<T: DeserializeOwned>(content_type: Option<&str>, body: &[u8]) -> Result<T, ApiError> {
    declared(content_type, "application/json")?;
    // Through a `Value`: serde reads a struct from a JSON array too (by position), and a
    // body must be an object.
    let value: Value =
        serde_json::from_slice(body).map_err(|e| ApiError::InvalidBody(e.to_string()))?;
    if !value.is_object() {
        return Err(ApiError::InvalidBody("expected a JSON object".to_owned()));
    }
    serde_json::from_value(value).map_err(|e| ApiError::InvalidBody(e.to_string()))
}

/// An optional JSON body: `None` when there is none, else as [`json`].
pub fn optional_json<T: DeserializeOwned>(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Option<T>, ApiError> {
    if body.is_empty() {
        return Ok(None);
    }
    json(content_type, body).map(Some)
}

/// A form body (`application/x-www-form-urlencoded`, what an HTML form posts) as `T`: 415
/// unless declared so, 400 unless its fields make a `T`.
pub fn form<T: DeserializeOwned>(content_type: Option<&str>, body: &[u8]) -> Result<T, ApiError> {
    declared(content_type, "application/x-www-form-urlencoded")?;
    let body = std::str::from_utf8(body).map_err(|e| ApiError::InvalidBody(e.to_string()))?;
    fields(body).map_err(ApiError::InvalidBody)
}

/// A query string (without `?`) as `T`, whose fields are strings: `+` and percent-escapes
/// decoded, the first of a repeated name kept, unknown names ignored by `T`.
pub fn query<T: DeserializeOwned>(raw: &str) -> Result<T, ApiError> {
    fields(raw).map_err(ApiError::InvalidQuery)
}

/// `name=value&…` as `T`: decoded, the first of a repeated name kept, and a value read as
/// the field's type (`limit=10` as a number, `banned=true` as a bool).
fn fields<T: DeserializeOwned>(encoded: &str) -> Result<T, String> {
    let mut first: Vec<(String, String)> = Vec::new();
    for (name, value) in tollbooth_auth::url::form_urlencoded::parse(encoded.as_bytes()) {
        if !first.iter().any(|(seen, _)| *seen == name) {
            first.push((name.into_owned(), value.into_owned()));
        }
    }
    let deduplicated = serde_urlencoded::to_string(&first).map_err(|e| e.to_string())?;
    serde_urlencoded::from_str(&deduplicated).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Pair {
        a: String,
        #[serde(default)]
        b: Option<String>,
    }

    #[test]
    fn a_body_is_a_declared_json_object() {
        let pair: Pair = json(Some("application/json; charset=utf-8"), br#"{"a":"x"}"#).unwrap();
        assert_eq!(
            pair,
            Pair {
                a: "x".into(),
                b: None
            }
        );
        assert!(matches!(
            json::<Pair>(Some("text/plain"), br#"{"a":"x"}"#),
            Err(ApiError::UnsupportedMediaType)
        ));
        assert!(matches!(
            json::<Pair>(None, br#"{"a":"x"}"#),
            Err(ApiError::UnsupportedMediaType)
        ));
        // By position serde would read `["x"]` as a `Pair`; the contract says object.
        assert!(matches!(
            json::<Pair>(Some("application/json"), br#"["x"]"#),
            Err(ApiError::InvalidBody(_))
        ));
        assert!(matches!(
            json::<Pair>(Some("application/json"), br#"{"b":"y"}"#),
            Err(ApiError::InvalidBody(_))
        ));
    }

    #[test]
    fn an_empty_optional_body_is_none_and_any_other_is_checked() {
        assert_eq!(optional_json::<Pair>(None, b"").unwrap(), None);
        assert!(matches!(
            optional_json::<Pair>(None, b"{}"),
            Err(ApiError::UnsupportedMediaType)
        ));
    }

    #[test]
    fn a_query_reads_each_value_as_its_field_type() {
        #[derive(Debug, Deserialize, PartialEq)]
        struct Page {
            limit: Option<u64>,
            banned: Option<bool>,
            email: Option<String>,
        }
        let page: Page = query("limit=10&banned=true&limit=99&email=a%2Bb%40x").unwrap();
        assert_eq!(
            page,
            Page {
                limit: Some(10),
                banned: Some(true),
                email: Some("a+b@x".to_owned()),
            }
        );
        assert!(matches!(
            query::<Page>("banned=maybe"),
            Err(ApiError::InvalidQuery(_))
        ));
        assert!(matches!(
            query::<Page>("limit=-1"),
            Err(ApiError::InvalidQuery(_))
        ));
    }

    #[test]
    fn a_form_is_declared_and_decoded() {
        let pair: Pair = form(
            Some("application/x-www-form-urlencoded"),
            b"a=ada%40example.com&b=",
        )
        .unwrap();
        assert_eq!(
            pair,
            Pair {
                a: "ada@example.com".into(),
                b: Some(String::new())
            }
        );
        assert!(matches!(
            form::<Pair>(Some("application/json"), b"a=x"),
            Err(ApiError::UnsupportedMediaType)
        ));
        assert!(matches!(
            form::<Pair>(Some("application/x-www-form-urlencoded"), b"b=x"),
            Err(ApiError::InvalidBody(_))
        ));
    }

    #[test]
    fn a_query_keeps_the_first_of_a_repeated_name_and_decodes() {
        let pair: Pair = query("a=x%2Fy+z&a=second&c=ignored").unwrap();
        assert_eq!(
            pair,
            Pair {
                a: "x/y z".into(),
                b: None
            }
        );
        assert!(matches!(
            query::<Pair>("b=1"),
            Err(ApiError::InvalidQuery(_))
        ));
    }
}
