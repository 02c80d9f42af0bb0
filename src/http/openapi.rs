//! What the OpenAPI document says in one place for every operation, so that it cannot drift
//! from what the extractors and the problem mapping answer: the pattern of each path segment the
//! server parses (a segment outside it is a 400), and the problem statuses any operation of a
//! kind can answer (400 for a bad path or query parameter; 401 and 403 behind the admin token;
//! 413, 415 and 422 for a request body).

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{ContentBuilder, OpenApi, RefOr, ResponseBuilder, Schema};

/// Path segments and the rule their parser applies (`domain::name`, the ids, the hashes).
const SEGMENTS: &[(&str, &str, usize)] = &[
    ("community", "^[a-z0-9][a-z0-9_-]{0,62}$", 63),
    ("pool", "^[a-z0-9][a-z0-9_-]{0,62}$", 63),
    ("topic", "^[A-Za-z0-9._-]{1,64}$", 64),
    ("member", "^[A-Za-z0-9._-]{1,64}$", 64),
    ("vote", "^[1-9][0-9]{0,17}$", 18),
    ("proposal", "^[1-9][0-9]{0,17}$", 18),
    ("version", "^[1-9][0-9]{0,17}$", 18),
    ("digest", "^0x[0-9a-fA-F]{64}$", 66),
    ("hash", "^0x[0-9a-fA-F]{64}$", 66),
    ("slug", "^[a-z0-9-]{1,64}$", 64),
];

fn problem(description: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/problem+json",
                ContentBuilder::new()
                    .schema(Some(ObjectBuilder::new().schema_type(Type::Object)))
                    .build(),
            )
            .build(),
    )
}

fn complete_operation(operation: &mut Operation) {
    for parameter in operation.parameters.iter_mut().flatten() {
        if parameter.parameter_in != ParameterIn::Path {
            continue;
        }
        if let Some((_, pattern, max)) = SEGMENTS.iter().find(|(n, ..)| *n == parameter.name) {
            parameter.schema = Some(RefOr::T(Schema::Object(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(*pattern))
                    .max_length(Some(*max))
                    .build(),
            )));
        }
    }
    let has_parameters = operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let has_body = operation.request_body.is_some();
    let guarded = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    let responses = &mut operation.responses.responses;
    let mut add = |status: &str, description: &str| {
        responses
            .entry(status.to_string())
            .or_insert_with(|| problem(description));
    };
    if has_parameters || has_body {
        add(
            "400",
            "A path or query parameter, or the body's JSON, is not valid",
        );
    }
    if has_body {
        add("413", "The body is larger than the route allows");
        add("415", "The body is not declared as JSON");
        add(
            "422",
            "A field of the body broke a rule; `errors` names each",
        );
    }
    add(
        "414",
        "The request target is longer than the server reads (64 KiB)",
    );
    add(
        "431",
        "The request's headers are larger than the server reads",
    );
    if guarded {
        add("401", "A valid admin bearer token is required");
        add("403", "No admin token is configured: the admin API is off");
    }
}

/// Adds the segment patterns and the common problem answers to every operation of `openapi`.
pub fn complete(openapi: &mut OpenApi) {
    for item in openapi.paths.paths.values_mut() {
        for operation in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            complete_operation(operation);
        }
    }
}
