//! actix-web extractor for an authenticated user (feature `actix`).

use actix_web::dev::Payload;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};
use futures_util::future::LocalBoxFuture;

use crate::{Claims, NotReady, Verifier};

/// The authenticated user of a request, from a verified `Authorization: Bearer` token.
///
/// Requires `web::Data<Verifier>` in the app data.
#[derive(Debug, Clone)]
pub struct AuthUser {
    /// User id (`sub`).
    pub id: i64,
    /// User email.
    pub email: String,
    /// All verified claims.
    pub claims: Claims,
}

/// Why [`AuthUser`] extraction failed; renders the HTTP error response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No usable bearer token (401 `Not authenticated`).
    #[error("Not authenticated")]
    NotAuthenticated,
    /// The token failed verification (401 `Could not validate credentials`).
    #[error("Could not validate credentials")]
    InvalidCredentials,
    /// The token cannot be judged yet (503 `Service temporarily unavailable` with
    /// `Retry-After`, the service's answer while it cannot serve; a 401 would tell the client
    /// to drop a good token).
    #[error("cannot verify tokens yet: {0}")]
    NotReady(NotReady),
    /// No `Verifier` registered in app data (500).
    #[error("Internal Server Error")]
    Misconfigured,
}

/// `Retry-After` of [`AuthError::NotReady`]: keys and the list of ended sessions are fetched
/// again within a second or two.
const NOT_READY_RETRY_AFTER: HeaderValue = HeaderValue::from_static("1");

impl AuthError {
    /// The `detail` the client sees: the error's text, except for [`AuthError::NotReady`],
    /// whose text (the cause) is for the log.
    fn detail(&self) -> String {
        match self {
            AuthError::NotReady(_) => "Service temporarily unavailable".to_owned(),
            other => other.to_string(),
        }
    }
}

impl ResponseError for AuthError {
    fn status_code(&self) -> StatusCode {
        match self {
            AuthError::NotAuthenticated | AuthError::InvalidCredentials => StatusCode::UNAUTHORIZED,
            AuthError::NotReady(_) => StatusCode::SERVICE_UNAVAILABLE,
            AuthError::Misconfigured => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let body = serde_json::json!({ "detail": self.detail() }).to_string();
        let mut resp = HttpResponse::build(self.status_code());
        resp.content_type("application/json");
        match self {
            AuthError::NotAuthenticated | AuthError::InvalidCredentials => {
                resp.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
            }
            AuthError::NotReady(_) => {
                resp.insert_header((header::RETRY_AFTER, NOT_READY_RETRY_AFTER));
            }
            AuthError::Misconfigured => {}
        }
        resp.body(body)
    }
}

/// Extracts the token of an `Authorization: Bearer <token>` header (scheme is
/// case-insensitive).
///
/// A request with more than one `Authorization` header is not authenticated (401, as with
/// none): a proxy that reads another of them than this service would disagree about who the
/// caller is, and every protected operation already documents 401 for unusable credentials.
fn bearer_token(req: &HttpRequest) -> Result<String, AuthError> {
    let mut values = req.headers().get_all(header::AUTHORIZATION);
    let value = values.next().ok_or(AuthError::NotAuthenticated)?;
    if values.next().is_some() {
        log::debug!("refused a request with more than one Authorization header");
        return Err(AuthError::NotAuthenticated);
    }
    let value = value
        .to_str()
        .map_err(|_| AuthError::NotAuthenticated)?
        .trim();
    let (scheme, token) = value
        .split_once(char::is_whitespace)
        .ok_or(AuthError::NotAuthenticated)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(AuthError::NotAuthenticated);
    }
    Ok(token.to_string())
}

impl FromRequest for AuthUser {
    type Error = AuthError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let verifier = req.app_data::<web::Data<Verifier>>().cloned();
        let token = bearer_token(req);
        Box::pin(async move {
            let Some(verifier) = verifier else {
                log::error!("AuthUser: no web::Data<Verifier> registered in app data");
                return Err(AuthError::Misconfigured);
            };
            let token = token?;
            // Not being ready is logged once per request by the access log (a 503 with its
            // cause); a rejection only at debug level, never returned.
            let claims = verifier.verify(&token).await.map_err(|e| {
                e.not_ready().map(AuthError::NotReady).unwrap_or_else(|| {
                    log::debug!("rejected bearer token: {e}");
                    AuthError::InvalidCredentials
                })
            })?;
            let id = claims.user_id().ok_or(AuthError::InvalidCredentials)?;
            Ok(AuthUser {
                id,
                email: claims.email.clone(),
                claims,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use actix_web::{test, web, App, HttpResponse};

    use super::*;
    use crate::testing::*;
    use crate::{VerifyConfig, DEFAULT_AUDIENCE, DEFAULT_ISSUER};

    async fn me(user: AuthUser) -> HttpResponse {
        HttpResponse::Ok().json(serde_json::json!({ "id": user.id, "email": user.email }))
    }

    fn verifier() -> web::Data<Verifier> {
        web::Data::new(Verifier::new(
            test_key_set(),
            VerifyConfig {
                issuer: DEFAULT_ISSUER.into(),
                audience: DEFAULT_AUDIENCE.into(),
                leeway_seconds: 0,
            },
        ))
    }

    async fn call(auth: Option<&str>) -> (StatusCode, Option<String>, Option<String>, String) {
        let app = test::init_service(
            App::new()
                .app_data(verifier())
                .route("/me", web::get().to(me)),
        )
        .await;
        let mut req = test::TestRequest::get().uri("/me");
        if let Some(auth) = auth {
            req = req.insert_header((header::AUTHORIZATION, auth));
        }
        let resp = test::call_service(&app, req.to_request()).await;
        let status = resp.status();
        let www = resp
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap().to_string());
        let ctype = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_string());
        let body = String::from_utf8(test::read_body(resp).await.to_vec()).unwrap();
        (status, www, ctype, body)
    }

    const NOT_AUTH: &str = r#"{"detail":"Not authenticated"}"#;
    const INVALID: &str = r#"{"detail":"Could not validate credentials"}"#;

    fn assert_401(res: (StatusCode, Option<String>, Option<String>, String), body: &str) {
        assert_eq!(res.0, StatusCode::UNAUTHORIZED);
        assert_eq!(res.1.as_deref(), Some("Bearer"));
        assert_eq!(res.2.as_deref(), Some("application/json"));
        assert_eq!(res.3, body);
    }

    #[actix_web::test]
    async fn no_header_is_not_authenticated() {
        assert_401(call(None).await, NOT_AUTH);
    }

    #[actix_web::test]
    async fn other_scheme_or_empty_token_is_not_authenticated() {
        assert_401(call(Some("Basic dXNlcjpwYXNz")).await, NOT_AUTH);
        assert_401(call(Some("Bearer")).await, NOT_AUTH);
        assert_401(call(Some("Bearer   ")).await, NOT_AUTH);
    }

    #[actix_web::test]
    async fn lowercase_bearer_with_valid_token_is_ok() {
        let token = encode_for_testing(
            &claims_for_testing(5, "x@example.com", 300),
            &test_signing_key(),
        );
        let (status, _, _, body) = call(Some(&format!("bearer {token}"))).await;
        assert_eq!(status, StatusCode::OK);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["id"], 5);
        assert_eq!(v["email"], "x@example.com");
    }

    #[actix_web::test]
    async fn two_authorization_headers_are_not_authenticated_even_if_one_is_valid() {
        let app = test::init_service(
            App::new()
                .app_data(verifier())
                .route("/me", web::get().to(me)),
        )
        .await;
        let token = encode_for_testing(
            &claims_for_testing(5, "x@example.com", 300),
            &test_signing_key(),
        );
        let valid = format!("Bearer {token}");
        for pair in [
            [valid.as_str(), "Bearer other"],
            ["Bearer other", &valid],
            [&valid, &valid],
        ] {
            let req = test::TestRequest::get()
                .uri("/me")
                .append_header((header::AUTHORIZATION, pair[0]))
                .append_header((header::AUTHORIZATION, pair[1]))
                .to_request();
            let resp = test::call_service(&app, req).await;
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{pair:?}");
            let body = test::read_body(resp).await;
            assert_eq!(&body[..], NOT_AUTH.as_bytes(), "{pair:?}");
        }
    }

    #[actix_web::test]
    async fn garbage_token_is_invalid_credentials() {
        assert_401(call(Some("Bearer not.a.jwt")).await, INVALID);
        assert_401(call(Some("Bearer garbage")).await, INVALID);
    }

    #[actix_web::test]
    async fn expired_token_is_invalid_credentials() {
        let token = encode_for_testing(
            &claims_for_testing(5, "x@example.com", -10),
            &test_signing_key(),
        );
        assert_401(call(Some(&format!("Bearer {token}"))).await, INVALID);
    }

    async fn call_with(verifier: Verifier, token: &str) -> actix_web::dev::ServiceResponse {
        let app = test::init_service(
            App::new()
                .app_data(web::Data::new(verifier))
                .route("/me", web::get().to(me)),
        )
        .await;
        let req = test::TestRequest::get()
            .uri("/me")
            .insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
            .to_request();
        test::call_service(&app, req).await
    }

    async fn assert_503(resp: actix_web::dev::ServiceResponse) {
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.headers().get(header::RETRY_AFTER).unwrap(), "1");
        assert!(resp.headers().get(header::WWW_AUTHENTICATE).is_none());
        let body = test::read_body(resp).await;
        assert_eq!(
            &body[..],
            br#"{"detail":"Service temporarily unavailable"}"#
        );
    }

    fn config() -> VerifyConfig {
        VerifyConfig {
            issuer: DEFAULT_ISSUER.into(),
            audience: DEFAULT_AUDIENCE.into(),
            leeway_seconds: 0,
        }
    }

    #[actix_web::test]
    async fn a_well_formed_token_before_any_key_is_loaded_is_503_not_401() {
        let token = encode_for_testing(
            &claims_for_testing(5, "x@example.com", 300),
            &test_signing_key(),
        );
        assert_503(call_with(Verifier::new(crate::KeySet::empty(), config()), &token).await).await;
        // What is not a JWT at all is refused whatever the keys.
        let resp = call_with(Verifier::new(crate::KeySet::empty(), config()), "garbage").await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    }

    #[actix_web::test]
    async fn a_session_token_before_the_ended_sessions_load_is_503_a_token_without_one_is_served() {
        let unloaded = || {
            Verifier::new(test_key_set(), config())
                .with_revocations(std::sync::Arc::new(crate::Revocations::new(0)))
        };
        let mut claims = claims_for_testing(5, "x@example.com", 300);
        let without_session = encode_for_testing(&claims, &test_signing_key());
        claims.sid = Some("s1".into());
        let with_session = encode_for_testing(&claims, &test_signing_key());
        assert_503(call_with(unloaded(), &with_session).await).await;
        assert_eq!(
            call_with(unloaded(), &without_session).await.status(),
            StatusCode::OK
        );
    }

    #[actix_web::test]
    async fn missing_verifier_is_500() {
        let app = test::init_service(App::new().route("/me", web::get().to(me))).await;
        let req = test::TestRequest::get()
            .uri("/me")
            .insert_header((header::AUTHORIZATION, "Bearer x"))
            .to_request();
        let resp = test::call_service(&app, req).await;
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = test::read_body(resp).await;
        assert_eq!(&body[..], br#"{"detail":"Internal Server Error"}"#);
    }
}
