//! The OpenAPI document served at `/openapi.json` and shown by Swagger UI at `/docs`.
//!
//! It states what the server enforces: the inputs' bounds and formats come from the input
//! types themselves ([`crate::domain`]), and [`ErrorBodies`] gives every error response the
//! body and headers the server sends with it.

use serde_json::json;
use service_kit::openapi::BearerAuth;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{Object, Schema};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{Content, OpenApi as Document, Ref, RefOr, Response};
use utoipa::{Modify, OpenApi};

use crate::domain;
use crate::routes::{posts, votes};

#[derive(OpenApi)]
#[openapi(
    info(title = "posts-service", description = "Posts and votes, for bearers of the auth service's tokens."),
    paths(
        posts::list_posts,
        posts::create_post,
        posts::get_post,
        posts::update_post,
        posts::delete_post,
        votes::vote
    ),
    components(schemas(
        posts::PostJson,
        posts::PostOut,
        posts::Owner,
        domain::PostInput,
        domain::VoteInput,
        votes::Message
    )),
    modifiers(&BearerAuth, &ErrorBodies, &NoNul)
)]
pub struct ApiDoc;

/// The texts the server refuses when they hold a NUL character (PostgreSQL cannot store
/// one), stated as `not: {pattern: "\u0000"}`. A `pattern` of `^[^\u0000]*$` says the same,
/// but makes generators that honour a `maxLength` of 100 000 far too slow. utoipa has no
/// `not` keyword, so it goes in the schema's extension map, which is written out flat.
pub struct NoNul;

impl Modify for NoNul {
    fn modify(&self, openapi: &mut Document) {
        if let Some(components) = openapi.components.as_mut() {
            if let Some(RefOr::T(Schema::Object(post))) = components.schemas.get_mut("PostCreate") {
                for field in ["title", "content"] {
                    if let Some(RefOr::T(Schema::Object(text))) = post.properties.get_mut(field) {
                        forbid_nul(text);
                    }
                }
            }
        }
        let list = openapi
            .paths
            .paths
            .get_mut("/posts/")
            .and_then(|item| item.get.as_mut())
            .and_then(|operation| operation.parameters.as_mut());
        for parameter in list.into_iter().flatten() {
            if let RefOr::T(parameter) = parameter {
                if parameter.name != "search" {
                    continue;
                }
                if let Some(RefOr::T(Schema::Object(search))) = parameter.schema.as_mut() {
                    forbid_nul(search);
                }
            }
        }
    }
}

fn forbid_nul(text: &mut Object) {
    text.extensions
        .get_or_insert_with(Default::default)
        .insert("not".to_owned(), json!({ "pattern": "\u{0}" }));
}

/// Every error response's body and headers, as `service_kit::ApiError` and the token
/// extractor send them: 422 is `{"detail": [ValidationError]}` (pydantic v1's shape), every
/// other error `{"detail": "<text>"}`; 401 carries `WWW-Authenticate: Bearer`. What every
/// operation shares is stated here once: each takes a bearer token (its security requirement
/// and its 401), each that reads a body answers 413 to one over the limit, and each documents
/// 503, the answer while the database cannot be reached or, just after start, the token keys
/// or the list of ended sessions are not loaded yet (with `Retry-After`).
pub struct ErrorBodies;

/// Name of the `{"detail": "<text>"}` schema.
const HTTP_ERROR: &str = "HTTPError";
/// Name of the 422 body's schema.
const VALIDATION_ERROR_BODY: &str = "HTTPValidationError";
/// Name of one entry of a 422's `detail` list.
const VALIDATION_ERROR: &str = "ValidationError";

impl Modify for ErrorBodies {
    fn modify(&self, openapi: &mut Document) {
        let schemas = [
            (
                HTTP_ERROR,
                json!({
                    "type": "object",
                    "required": ["detail"],
                    "properties": { "detail": { "type": "string" } },
                }),
            ),
            (
                VALIDATION_ERROR,
                json!({
                    "type": "object",
                    "required": ["loc", "msg", "type"],
                    "properties": {
                        "loc": {
                            "type": "array",
                            "items": { "oneOf": [{ "type": "string" }, { "type": "integer" }] },
                        },
                        "msg": { "type": "string" },
                        "type": { "type": "string" },
                        "ctx": { "type": "object" },
                    },
                }),
            ),
            (
                VALIDATION_ERROR_BODY,
                json!({
                    "type": "object",
                    "required": ["detail"],
                    "properties": {
                        "detail": {
                            "type": "array",
                            "items": { "$ref": format!("#/components/schemas/{VALIDATION_ERROR}") },
                        },
                    },
                }),
            ),
        ];
        let components = openapi.components.get_or_insert_with(Default::default);
        for (name, schema) in schemas {
            let schema = serde_json::from_value(schema).expect("a valid JSON schema");
            components.schemas.insert(name.to_owned(), schema);
        }
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                document_errors(operation);
            }
        }
    }
}

fn document_errors(operation: &mut Operation) {
    operation
        .security
        .get_or_insert_with(|| vec![SecurityRequirement::new("bearer", Vec::<String>::new())]);
    let reads_body = operation.request_body.is_some();
    let responses = &mut operation.responses.responses;
    let mut shared = vec![("401", "Missing or invalid token")];
    if reads_body {
        shared.push(("413", "Body over 1 MiB"));
    }
    for (status, description) in shared {
        responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::T(Response::new(description)));
    }
    responses.entry("503".to_owned()).or_insert_with(|| {
        RefOr::T(Response::new(
            "The database cannot be reached now, or (just after start) the token keys or the \
             list of ended sessions are not loaded yet; retry after `Retry-After` seconds",
        ))
    });
    for (status, response) in responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        if !(status.starts_with('4') || status.starts_with('5')) {
            continue;
        }
        let schema = if status == "422" {
            VALIDATION_ERROR_BODY
        } else {
            HTTP_ERROR
        };
        response
            .content
            .entry("application/json".to_owned())
            .or_insert_with(|| RefOr::T(Content::new(Some(Ref::from_schema_name(schema)))));
        let header = match status.as_str() {
            "401" => Some(("WWW-Authenticate", "`Bearer`")),
            "503" => Some(("Retry-After", "Seconds to wait before retrying")),
            _ => None,
        };
        if let Some((name, description)) = header {
            let mut header = utoipa::openapi::header::Header::default();
            header.description = Some(description.to_owned());
            response
                .headers
                .entry(name.to_owned())
                .or_insert(RefOr::T(header));
        }
    }
}
