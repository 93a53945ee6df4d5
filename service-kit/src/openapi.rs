//! OpenAPI pieces every service's document shares: the `bearer` security scheme
//! ([`BearerAuth`]) and the schemas of the error bodies every service sends
//! ([`crate::ApiError`]'s shapes), for handlers' `responses(...)` to name (they only document
//! responses).

use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::RefOr;

/// OpenAPI description of a 422 body: `{"detail": [{"loc", "msg", "type", "ctx"?}]}`
/// (pydantic v1's shape). Only documents responses (`body = ValidationErrors`).
pub struct ValidationErrors;

impl utoipa::PartialSchema for ValidationErrors {
    fn schema() -> RefOr<Schema> {
        let entry = ObjectBuilder::new()
            .property(
                "loc",
                ArrayBuilder::new().items(
                    ObjectBuilder::new()
                        .schema_type(SchemaType::from_iter([Type::String, Type::Integer])),
                ),
            )
            .property("msg", ObjectBuilder::new().schema_type(Type::String))
            .property("type", ObjectBuilder::new().schema_type(Type::String))
            .property("ctx", ObjectBuilder::new().schema_type(Type::Object))
            .required("loc")
            .required("msg")
            .required("type");
        ObjectBuilder::new()
            .property("detail", ArrayBuilder::new().items(entry))
            .required("detail")
            .description(Some("Invalid input: one entry per failing field"))
            .into()
    }
}

impl utoipa::ToSchema for ValidationErrors {}

/// OpenAPI description of an error body `{"detail": "text"}`. Only documents responses
/// (`body = Detail`).
pub struct Detail;

impl utoipa::PartialSchema for Detail {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .property("detail", ObjectBuilder::new().schema_type(Type::String))
            .required("detail")
            .into()
    }
}

impl utoipa::ToSchema for Detail {}

/// OpenAPI modifier declaring the `bearer` security scheme (a JWT in `Authorization`) that
/// the services' operations refer to.
pub struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}
