//! `POST /login`: the course's OAuth2 password form (JSON accepted too), throttled per account.

use actix_web::http::header::{self, CacheControl, CacheDirective, HeaderValue};
use actix_web::{web, HttpResponse};
use chrono::TimeDelta;
use serde::Serialize;
use serde_json::json;
use service_kit::input::{Fields, RawBody};
use service_kit::ApiError;
use utoipa::ToSchema;

use crate::domain::email_key;
use crate::store;
use crate::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource(["/login", "/login/"]).route(web::post().to(login)));
}

/// The same answer for an unknown email and a wrong password.
const INVALID_CREDENTIALS: &str = "Invalid Credentials";

#[derive(Debug, Serialize, ToSchema)]
pub struct Token {
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: u64,
}

/// Login form (`application/x-www-form-urlencoded`; a JSON object with the same fields works too).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct LoginForm {
    /// The account's email.
    username: String,
    password: String,
    /// Optional; `password` when present.
    grant_type: Option<String>,
}

fn login_fields(body: &RawBody) -> Result<Fields, ApiError> {
    if body.is_json() {
        return body.json_object();
    }
    // Form bodies; anything unparsable reads as an empty form (so: fields required).
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(&body.bytes).unwrap_or_default();
    Ok(Fields::from_pairs(pairs))
}

/// Exchanges email and password for an access token.
#[utoipa::path(post, path = "/login", tag = "Authentication",
    request_body(content = LoginForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Access token", body = Token),
        (status = 403, description = "Invalid Credentials"),
        (status = 422, description = "Missing field"),
        (status = 429, description = "Too many failed logins for this account; see Retry-After"),
        (status = 503, description = "Overloaded; see Retry-After"),
    ))]
pub async fn login(state: web::Data<AppState>, body: RawBody) -> Result<HttpResponse, ApiError> {
    let mut fields = login_fields(&body)?;
    if let Some(grant_type) = fields.optional_string("grant_type") {
        if grant_type != "password" {
            fields.reject(
                "grant_type",
                "string does not match regex \"password\"",
                "value_error.str.regex",
                Some(json!({ "pattern": "password" })),
            );
        }
    }
    let username = fields.string("username");
    let password = fields.string("password");
    fields.finish()?;
    let (Some(username), Some(password)) = (username, password) else {
        return Err(ApiError::Internal("validated fields missing".into()));
    };

    let key = email_key(&username);
    let now = service_kit::time::now_utc();
    let window = TimeDelta::minutes(state.throttle.window_minutes);
    let max_failures = state.throttle.max_failures;

    // One trip to the database: is the account locked, and who is it?
    let lookup_key = key.clone();
    let (failures, user) = state
        .db
        .run(move |conn| {
            let failures = store::login_failures_of(conn, &lookup_key)?
                .filter(|(_, started)| *started + window > now);
            let user = store::user_by_email_key(conn, &lookup_key)?;
            Ok::<_, ApiError>((failures, user))
        })
        .await?;
    if let Some((count, started)) = failures {
        if count >= max_failures {
            let remaining = (started + window - now).num_seconds().max(1);
            log::info!("login throttled for an account after {count} failures");
            return Err(ApiError::TooManyRequests {
                detail: "Too many failed login attempts, try again later".into(),
                retry_after: remaining as u64,
            });
        }
    }

    // No account has a password longer than bcrypt's limit: the hasher refuses those at once.
    let valid = state
        .hasher
        .verify(password, user.as_ref().map(|u| u.password_hash.clone()))
        .await?;

    let user = match user {
        Some(user) if valid => user,
        _ => {
            let cutoff = now - window;
            state
                .db
                .run(move |conn| store::record_login_failure(conn, &key, now, cutoff))
                .await
                .map_err(ApiError::from)?;
            return Err(ApiError::Forbidden(INVALID_CREDENTIALS.into()));
        }
    };

    if failures.is_some() {
        state
            .db
            .run(move |conn| store::clear_login_failures(conn, &key))
            .await
            .map_err(ApiError::from)?;
    }
    let access_token = state
        .issuer
        .issue(
            user.id,
            &user.email,
            Some(service_kit::time::iso(&user.created_at)),
        )
        .map_err(|e| ApiError::Internal(format!("cannot sign token: {e}")))?;
    let mut resp = HttpResponse::Ok()
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .json(Token {
            access_token,
            token_type: "bearer",
            expires_in: state.issuer.ttl().as_secs(),
        });
    resp.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(resp)
}
