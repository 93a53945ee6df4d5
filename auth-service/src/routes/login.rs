//! `POST /login`: the course's OAuth2 password form (JSON accepted too), throttled per account.

use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::from_fn;
use actix_web::{web, HttpRequest, HttpResponse, Responder};
use service_kit::input::{Body, Detail, ValidationErrors};

use crate::credentials::{check_password, Counter};
use crate::domain::{email_key, LoginForm, MAX_EMAIL_BYTES};
use crate::error::Error;
use crate::limits::{self, Route};
use crate::routes::{BodyTooLarge, Overloaded};
use crate::sessions::{self, Token};
use crate::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    // Tokens, and refusals about an account: never cached.
    cfg.service(
        web::resource(["/login", "/login/"])
            .wrap(from_fn(limits::middleware(Route::Login)))
            .wrap(service_kit::http::no_store())
            .route(web::post().to(login)),
    );
}

/// Exchanges email and password for an access token (and a refresh token: a new session).
/// The answer sets a device cookie (`auth_device_<id>`, HttpOnly): logins presenting it are
/// not subject to the account's lock that failures from unknown clients set.
#[utoipa::path(post, path = "/login", tag = "Authentication",
    // `multipart/form-data` is read too (as FastAPI's forms are) but left out here: it adds
    // nothing a client needs, and fuzzers put raw control bytes in its part headers.
    request_body(content(
        (LoginForm = "application/x-www-form-urlencoded"),
        (LoginForm = "application/json"),
    )),
    responses(BodyTooLarge, Overloaded,
        (status = 200, description = "Access token, and a refresh token starting a session", body = Token),
        (status = 403, description = "Invalid Credentials", body = Detail),
        (status = 422, description = "Missing or invalid field", body = ValidationErrors),
        (status = 429, description = "Too many failed logins for this account from unknown clients, or from this device; or too many requests from this client or to this route (see Retry-After and RateLimit)", body = Detail),
    ))]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Body,
) -> Result<HttpResponse, Error> {
    let LoginForm {
        username, password, ..
    } = body.json_or_form().await?;
    if username.len() > MAX_EMAIL_BYTES {
        // No account has such a name: refuse without touching the database.
        return Err(Error::invalid_credentials());
    }
    let now = service_kit::time::now_utc();
    let devices = state.device_cookies.recognise(
        req.headers()
            .get_all(header::COOKIE)
            .filter_map(|v| v.to_str().ok()),
        now,
    );
    let user = check_password(
        &state,
        email_key(&username),
        password,
        Counter::Login(devices),
    )
    .await?
    .ok_or_else(Error::invalid_credentials)?;
    let cookie = state.device_cookies.issue(user.id, now)?;
    let token: Token = sessions::start(&state, user).await?;
    let mut resp = token.respond_to(&req);
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(resp)
}
