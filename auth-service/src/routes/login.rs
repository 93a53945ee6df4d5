//! `POST /login`: the course's OAuth2 password form (JSON accepted too), throttled per account.

use actix_web::web;
use service_kit::input::{Body, Detail, ValidationErrors};

use crate::credentials::check_password;
use crate::domain::{email_key, LoginForm, MAX_EMAIL_BYTES};
use crate::error::Error;
use crate::routes::{BodyTooLarge, Overloaded};
use crate::sessions::{self, Token};
use crate::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    // Tokens, and refusals about an account: never cached.
    cfg.service(
        web::resource(["/login", "/login/"])
            .wrap(service_kit::http::no_store())
            .route(web::post().to(login)),
    );
}

/// Exchanges email and password for an access token (and a refresh token: a new session).
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
        (status = 429, description = "Too many failed logins for this account; see Retry-After", body = Detail),
    ))]
pub async fn login(state: web::Data<AppState>, body: Body) -> Result<Token, Error> {
    let LoginForm {
        username, password, ..
    } = body.json_or_form().await?;
    if username.len() > MAX_EMAIL_BYTES {
        // No account has such a name: refuse without touching the database.
        return Err(Error::invalid_credentials());
    }
    let user = check_password(&state, email_key(&username), password)
        .await?
        .ok_or_else(Error::invalid_credentials)?;
    sessions::start(&state, user).await
}
