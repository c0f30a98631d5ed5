//! Every answer the suite receives is checked against the OpenAPI document the servers
//! serve (`GET /openapi.json`), so the document cannot drift from the servers: a route, a
//! status or a field the document does not describe fails the test that met it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{Value, json};

/// The servers' document, and a validator per (operation, status) compiled on first use.
#[derive(Debug)]
pub struct Contract {
    doc: Value,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

static CONTRACT: OnceLock<Contract> = OnceLock::new();

impl Contract {
    /// Records the document a server serves: the first one read, and every later server
    /// (either framework, either engine) must serve the very same.
    pub fn install(doc: Value) {
        assert_eq!(doc["openapi"], "3.1.0", "an OpenAPI 3.1 document");
        let installed = CONTRACT.get_or_init(|| Contract {
            doc: doc.clone(),
            validators: Mutex::new(HashMap::new()),
        });
        assert!(
            installed.doc == doc,
            "the servers serve different documents"
        );
    }

    /// The document, once a server has started.
    pub fn get() -> Option<&'static Contract> {
        CONTRACT.get()
    }

    /// Panics unless the document describes this answer.
    pub fn check(&self, method: &str, path: &str, status: u16, body: &[u8]) {
        let violations = self.violations(method, path, status, body);
        assert!(
            violations.is_empty(),
            "{method} {path} answered {status} {}, which /openapi.json does not describe:\n{}",
            String::from_utf8_lossy(body),
            violations.join("\n")
        );
    }

    /// How this answer departs from the document (empty when it does not).
    pub fn violations(&self, method: &str, path: &str, status: u16, body: &[u8]) -> Vec<String> {
        let path = path.split(['?', '#']).next().unwrap_or_default();
        let method = method.to_ascii_lowercase();
        let Some(template) = self.template(path) else {
            // The router's fallback: an unknown path is 404 in the error shape.
            return self.expect_error(status, 404, body);
        };
        let operation = &self.doc["paths"][template][&method];
        if operation.is_null() {
            return self.expect_error(status, 405, body);
        }
        let responses = &operation["responses"];
        let class = format!("{}XX", status / 100);
        let Some((key, response)) = [status.to_string(), class, "default".to_owned()]
            .into_iter()
            .map(|key| (key.clone(), &responses[key.as_str()]))
            .find(|(_, response)| !response.is_null())
        else {
            return vec![format!(
                "{method} {template}: status {status} is not documented"
            )];
        };
        let schema = &response["content"]["application/json"]["schema"];
        if schema.is_null() {
            return if body.is_empty() {
                Vec::new()
            } else {
                vec![format!(
                    "{method} {template} {status}: documented without a body"
                )]
            };
        }
        let id = format!("{method} {template} {key}");
        self.validate(&id, schema, body)
    }

    fn expect_error(&self, status: u16, expected: u16, body: &[u8]) -> Vec<String> {
        if status != expected {
            return vec![format!("expected the router's {expected}, got {status}")];
        }
        let schema = json!({ "$ref": "#/components/schemas/ErrorBody" });
        self.validate("error", &schema, body)
    }

    fn validate(&self, id: &str, schema: &Value, body: &[u8]) -> Vec<String> {
        let Ok(instance) = serde_json::from_slice::<Value>(body) else {
            return vec!["the body is not JSON".to_owned()];
        };
        let validator = self.validator(id, schema);
        validator
            .iter_errors(&instance)
            .map(|error| format!("{error} at {}", error.instance_path()))
            .collect()
    }

    fn validator(&self, id: &str, schema: &Value) -> Arc<jsonschema::Validator> {
        let mut validators = self.validators.lock().expect("validators");
        validators
            .entry(id.to_owned())
            .or_insert_with(|| {
                // The schema as the root of a document holding the components, so its
                // `#/components/schemas/…` references resolve without a registry.
                let root = json!({ "components": self.doc["components"], "allOf": [schema] });
                let validator = jsonschema::options()
                    .should_validate_formats(true)
                    .build(&root)
                    .unwrap_or_else(|e| {
                        panic!("{id}: the document's schema does not compile: {e}")
                    });
                Arc::new(validator)
            })
            .clone()
    }

    /// The documented path this concrete path is an instance of, preferring literal
    /// segments (`/auth/sessions`) over parameters (`/auth/sessions/{id}`).
    fn template(&self, path: &str) -> Option<&str> {
        let segments: Vec<&str> = path.split('/').collect();
        self.doc["paths"]
            .as_object()?
            .keys()
            .filter_map(|template| {
                let parts: Vec<&str> = template.split('/').collect();
                if parts.len() != segments.len() {
                    return None;
                }
                let mut parameters = 0;
                for (part, segment) in parts.iter().zip(&segments) {
                    if part.starts_with('{') {
                        if segment.is_empty() {
                            return None;
                        }
                        parameters += 1;
                    } else if part != segment {
                        return None;
                    }
                }
                Some((parameters, template.as_str()))
            })
            .min()
            .map(|(_, template)| template)
    }
}
