//! Inputs at their edges: strict JSON types (a number is not a string, a boolean is not an
//! integer), `null`, bounds stated in the OpenAPI document and enforced by the server, and
//! searches far longer than any title on both backends.

use reqwest::Method;
use serde_json::{json, Value};
use service_kit::Backend;

use crate::helpers::*;

fn one_error(loc: Value, msg: &str, kind: &str) -> Value {
    json!({ "detail": [{ "loc": loc, "msg": msg, "type": kind }] })
}

/// Percent-encodes a query value.
fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("v", s)]).unwrap()[2..].to_string()
}

service_kit::backend_tests! {
    async fn a_number_is_not_a_title_or_a_content(backend) {
        let app = spawn_app(backend).await;
        let token = alice();
        let not_a_string = |field: &str| {
            one_error(json!(["body", field]), "str type expected", "type_error.str")
        };
        let (status, body) = status_json(app.create_post(&token, json!({ "title": 5, "content": "c" })).await).await;
        assert_eq!((status, body), (422, not_a_string("title")));
        let (status, body) = status_json(app.create_post(&token, json!({ "title": "t", "content": 1.5 })).await).await;
        assert_eq!((status, body), (422, not_a_string("content")));
        let id = app.new_post(&token, "kept", true).await;
        let (status, body) = status_json(app.put_post(&token, id, json!({ "title": 7, "content": -1 })).await).await;
        assert_eq!(status, 422);
        assert_eq!(body["detail"].as_array().unwrap().len(), 2, "{body}");
        let (_, body) = status_json(app.get_post(&token, id).await).await;
        assert_eq!(body["Post"]["title"], "kept");
    }

    async fn published_is_true_false_or_omitted_never_null_nor_a_lookalike(backend) {
        let app = spawn_app(backend).await;
        let token = alice();
        let not_a_bool = one_error(json!(["body", "published"]), "value could not be parsed to a boolean", "type_error.bool");
        for lookalike in [json!("yes"), json!("false"), json!(1), json!(0), json!([true])] {
            let (status, body) = status_json(
                app.create_post(&token, json!({ "title": "t", "content": "c", "published": lookalike })).await,
            )
            .await;
            assert_eq!((status, &body), (422, &not_a_bool), "published: {lookalike}");
        }
        // pydantic v1's `published: bool = True`: omitted is true, an explicit null is refused.
        let (status, body) = status_json(
            app.create_post(&token, json!({ "title": "t", "content": "c", "published": null })).await,
        )
        .await;
        assert_eq!((status, body), (422, one_error(json!(["body", "published"]), "none is not an allowed value", "type_error.none.not_allowed")));
        let (status, body) = status_json(app.create_post(&token, json!({ "title": "t", "content": "c" })).await).await;
        assert_eq!((status, body["published"].clone()), (201, json!(true)));
        let (status, body) = status_json(
            app.create_post(&token, json!({ "title": "t", "content": "c", "published": false })).await,
        )
        .await;
        assert_eq!((status, body["published"].clone()), (201, json!(false)));
    }

    async fn a_vote_takes_json_integers_only(backend) {
        let app = spawn_app(backend).await;
        let token = alice();
        let id = app.new_post(&token, "p", true).await;
        let not_an_integer = |field: &str| {
            one_error(json!(["body", field]), "value is not a valid integer", "type_error.integer")
        };
        for dir in [json!(true), json!(false), json!("1"), json!(0.5), json!([1])] {
            let (status, body) = status_json(app.vote_body(&token, json!({ "post_id": id, "dir": dir })).await).await;
            assert_eq!((status, &body), (422, &not_an_integer("dir")), "dir: {dir}");
        }
        // Beyond 64 bits, as an integer or as a float.
        let too_big = r#"{"post_id": 9223372036854775808, "dir": 1}"#;
        let too_big_float = r#"{"post_id": 9.3e18, "dir": 1}"#;
        for raw in [too_big, too_big_float] {
            let (status, body) = status_json(app.post_json_text(&token, "/vote/", raw).await).await;
            assert_eq!((status, &body), (422, &not_an_integer("post_id")), "{raw}");
        }
        for post_id in [json!(id.to_string()), json!(true), json!(id as f64 + 0.5)] {
            let (status, body) = status_json(app.vote_body(&token, json!({ "post_id": post_id, "dir": 1 })).await).await;
            assert_eq!((status, &body), (422, &not_an_integer("post_id")), "post_id: {post_id}");
        }
        let (status, body) = status_json(app.vote_body(&token, json!({ "post_id": null, "dir": null })).await).await;
        assert_eq!(status, 422);
        assert_eq!(body["detail"][0]["type"], "type_error.none.not_allowed");
        assert_eq!(body["detail"][1]["type"], "type_error.none.not_allowed");
        // Nothing above was counted.
        let (_, body) = status_json(app.get_post(&token, id).await).await;
        assert_eq!(body["votes"], 0);
        // A float with no fractional part is an integer, as JSON Schema counts them.
        let (status, _) = status_json(app.vote_body(&token, json!({ "post_id": id as f64, "dir": 1.0 })).await).await;
        assert_eq!(status, 201);
        let (status, _) = status_json(app.vote_body(&token, json!({ "post_id": id, "dir": 0.0 })).await).await;
        assert_eq!(status, 201);
    }

    async fn a_search_up_to_its_bound_answers_200_and_a_longer_one_422(backend) {
        let app = spawn_app(backend).await;
        let token = alice();
        app.new_post(&token, "a title", true).await;
        // SQLite refuses LIKE patterns over 50 000 bytes, and `%`, `_` and `\` double in
        // one; every search here is far beyond the longest title, and answers like
        // PostgreSQL: 200 and nothing found. (A request target holds at most 65 534 bytes,
        // so 30 000 `%`, 90 000 bytes once percent-encoded, cannot be sent at all.)
        let longest = posts_service::domain::MAX_SEARCH_CHARS;
        assert!(longest >= 60_000);
        for search in [
            "a".repeat(60_000),
            "_".repeat(30_000),
            "%__".repeat(10_000),
            "%".repeat(20_000),
            "é".repeat(10_000),
        ] {
            let resp = app.list(&token, &format!("search={}", urlencode(&search))).await;
            let (status, body) = status_json(resp).await;
            assert_eq!((status, body), (200, json!([])), "{} bytes", search.len());
        }
        let resp = app.list(&token, &format!("search={}", "a".repeat(longest + 1))).await;
        let (status, body) = status_json(resp).await;
        assert_eq!(status, 422);
        assert_eq!(
            body,
            json!({ "detail": [{
                "loc": ["query", "search"],
                "msg": format!("ensure this value has at most {longest} characters"),
                "type": "value_error.any_str.max_length",
                "ctx": { "limit_value": longest },
            }] })
        );
    }

    async fn path_ids_are_read_one_way_on_every_route(backend) {
        let app = spawn_app(backend).await;
        let token = alice();
        let bad_id = one_error(json!(["path", "id"]), "value is not a valid integer", "type_error.integer");
        for id in ["9223372036854775808", "-9223372036854775809", "1e3", "0x10", "%20"] {
            for method in [Method::GET, Method::PUT, Method::DELETE] {
                let resp = app
                    .request(method.clone(), &format!("/posts/{id}"), Some(&token))
                    .json(&json!({ "title": "t", "content": "c" }))
                    .send()
                    .await
                    .unwrap();
                let (status, body) = status_json(resp).await;
                assert_eq!((status, &body), (422, &bad_id), "{method} {id}");
            }
        }
        // The extremes of a 64-bit id are ids: no post has them.
        for id in [i64::MAX, i64::MIN] {
            let (status, body) = status_json(app.get_post(&token, id).await).await;
            assert_eq!((status, body), (404, detail(&format!("post with id: {id} was not found"))));
        }
    }
}

/// The bounds, defaults and formats the server enforces, read from the document.
#[actix_web::test]
async fn the_openapi_document_states_what_the_server_enforces() {
    use posts_service::domain::*;
    let app = spawn_app(Backend::Sqlite).await;
    let (status, doc) = status_json(app.get("/openapi.json", None).await).await;
    assert_eq!(status, 200);
    let schemas = &doc["components"]["schemas"];

    let post = &schemas["PostCreate"];
    assert_eq!(post["required"], json!(["title", "content"]), "{post}");
    let title = &post["properties"]["title"];
    assert_eq!(
        (&title["type"], &title["minLength"], &title["maxLength"]),
        (&json!("string"), &json!(1), &json!(MAX_TITLE_CHARS)),
        "{title}"
    );
    let content = &post["properties"]["content"];
    assert_eq!(
        (
            &content["type"],
            &content["minLength"],
            &content["maxLength"]
        ),
        (&json!("string"), &json!(0), &json!(MAX_CONTENT_CHARS)),
        "{content}"
    );
    // No NUL character (PostgreSQL cannot store one).
    let no_nul = json!({ "pattern": "\u{0}" });
    for text in [title, content] {
        assert_eq!(text["not"], no_nul, "{text}");
    }
    // Not nullable: `null` is a 422.
    let published = &post["properties"]["published"];
    assert_eq!(
        (&published["type"], &published["default"]),
        (&json!("boolean"), &json!(true)),
        "{published}"
    );

    let vote = &schemas["Vote"];
    assert_eq!(vote["required"], json!(["post_id", "dir"]), "{vote}");
    let dir = &vote["properties"]["dir"];
    assert_eq!(
        (&dir["type"], &dir["minimum"], &dir["maximum"]),
        (&json!("integer"), &json!(0), &json!(1)),
        "{dir}"
    );
    let post_id = &vote["properties"]["post_id"];
    assert_eq!(
        (&post_id["type"], &post_id["minimum"], &post_id["maximum"]),
        (&json!("integer"), &json!(i64::MIN), &json!(i64::MAX)),
        "{post_id}"
    );

    let list = &doc["paths"]["/posts/"]["get"];
    let param = |name: &str| -> Value {
        list["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no {name} parameter"))["schema"]
            .clone()
    };
    let limit = param("limit");
    assert_eq!(
        (&limit["minimum"], &limit["maximum"], &limit["default"]),
        (&json!(0), &json!(MAX_LIMIT), &json!(DEFAULT_LIMIT)),
        "{limit}"
    );
    let skip = param("skip");
    assert_eq!(
        (&skip["minimum"], &skip["maximum"], &skip["default"]),
        (&json!(0), &json!(MAX_SKIP), &json!(0)),
        "{skip}"
    );
    let search = param("search");
    assert_eq!(
        (&search["maxLength"], &search["not"]),
        (&json!(MAX_SEARCH_CHARS), &no_nul),
        "{search}"
    );
    let cursor = param("cursor");
    assert_eq!(cursor["pattern"], "^([A-Za-z0-9_-]{23})?$", "{cursor}");

    for method in ["get", "put", "delete"] {
        let id = &doc["paths"]["/posts/{id}"][method]["parameters"][0];
        assert_eq!(
            (&id["name"], &id["in"], &id["required"]),
            (&json!("id"), &json!("path"), &json!(true)),
            "{id}"
        );
        let schema = &id["schema"];
        assert_eq!(
            (&schema["type"], &schema["minimum"], &schema["maximum"]),
            (&json!("integer"), &json!(i64::MIN), &json!(i64::MAX)),
            "{method} {schema}"
        );
    }

    // Every error the server answers is documented, with its body.
    let expected: [(&str, &str, &[&str]); 6] = [
        ("/posts/", "get", &["401", "422", "503"]),
        ("/posts/", "post", &["401", "413", "422", "503"]),
        ("/posts/{id}", "get", &["401", "404", "422", "503"]),
        (
            "/posts/{id}",
            "put",
            &["401", "403", "404", "413", "422", "503"],
        ),
        (
            "/posts/{id}",
            "delete",
            &["401", "403", "404", "422", "503"],
        ),
        (
            "/vote/",
            "post",
            &["401", "404", "409", "413", "422", "503"],
        ),
    ];
    for (path, method, statuses) in expected {
        let responses = &doc["paths"][path][method]["responses"];
        for status in statuses.iter().copied() {
            let body = &responses[status]["content"]["application/json"]["schema"]["$ref"];
            let schema = if status == "422" {
                "HTTPValidationError"
            } else {
                "HTTPError"
            };
            assert_eq!(
                body,
                &json!(format!("#/components/schemas/{schema}")),
                "{method} {path} {status}"
            );
        }
        assert!(
            responses["401"]["headers"]["WWW-Authenticate"].is_object(),
            "{method} {path}"
        );
    }
    assert_eq!(
        schemas["HTTPValidationError"]["properties"]["detail"]["items"]["$ref"],
        "#/components/schemas/ValidationError"
    );
}
