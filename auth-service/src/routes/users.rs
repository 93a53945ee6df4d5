//! `POST /users/` (sign up) and `GET /users/{id}`.

use actix_web::{web, HttpResponse};
use chrono::NaiveDateTime;
use serde::Serialize;
use service_kit::input::{path_id, Body};
use service_kit::ApiError;
use shared_claims::AuthUser;
use utoipa::ToSchema;

use crate::domain::{email_field, new_password_field, new_password_field_named};
use crate::routes::login::{refuse_if_throttled, INVALID_CREDENTIALS};
use crate::routes::sessions::require_live_session;
use crate::store::{self, CheckOutcome, NewUser, User};
use crate::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource(["/users", "/users/"]).route(web::post().to(create_user)))
        // Before `/users/{id}`, which would take `me` for an id.
        .service(web::resource(["/users/me", "/users/me/"]).route(web::get().to(me)))
        .service(
            web::resource(["/users/me/password", "/users/me/password/"])
                .route(web::put().to(change_password)),
        )
        .service(web::resource(["/users/{id}", "/users/{id}/"]).route(web::get().to(get_user)));
}

/// A user as the API shows it (never the password hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    pub id: i64,
    pub email: String,
    #[serde(serialize_with = "service_kit::time::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: NaiveDateTime,
}

impl From<User> for UserOut {
    fn from(u: User) -> UserOut {
        UserOut {
            id: u.id,
            email: u.email,
            created_at: u.created_at,
        }
    }
}

/// Sign-up body.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UserCreate {
    /// A valid email address; unique regardless of case.
    email: String,
    /// 8 characters to 72 bytes.
    password: String,
}

/// Creates an account.
#[utoipa::path(post, path = "/users/", tag = "Users", request_body = UserCreate,
    responses(
        (status = 201, description = "Created", body = UserOut),
        (status = 409, description = "Email already registered"),
        (status = 422, description = "Invalid email or password"),
    ))]
pub async fn create_user(state: web::Data<AppState>, body: Body) -> Result<HttpResponse, ApiError> {
    let mut fields = body.read().await?.json_object()?;
    let email = email_field(&mut fields);
    let password = new_password_field(&mut fields);
    fields.finish()?;
    let (Some(email), Some(password)) = (email, password) else {
        return Err(ApiError::Internal("validated fields missing".into()));
    };

    let password_hash = state.hasher.hash(password).await?;
    let created = state
        .db
        .run(move |conn| {
            let new = NewUser {
                email: &email.address,
                email_key: &email.key,
                password_hash: &password_hash,
                created_at: service_kit::time::now_utc(),
            };
            match store::insert_user(conn, &new) {
                Err(e) if e.is_unique_violation() => Err(ApiError::Conflict(format!(
                    "User with email: {} already exists",
                    email.address
                ))),
                other => other.map_err(ApiError::from),
            }
        })
        .await?;
    log::info!("user {} signed up", created.id);
    Ok(HttpResponse::Created().json(UserOut::from(created)))
}

/// Reads one account.
#[utoipa::path(get, path = "/users/{id}", tag = "Users",
    params(("id" = i64, Path, description = "User id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user", body = UserOut),
        (status = 401, description = "Missing or invalid token"),
        (status = 404, description = "No such user"),
    ))]
pub async fn get_user(
    caller: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, actix_web::Error> {
    let id = path_id(&id, "id")?;
    require_live_session(&state, &caller).await?;
    let user = state
        .db
        .run(move |conn| store::user_by_id(conn, id).map_err(ApiError::from))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("User with id: {id} does not exist")))?;
    Ok(HttpResponse::Ok().json(UserOut::from(user)))
}

/// The caller's own account.
#[utoipa::path(get, path = "/users/me", tag = "Users",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller", body = UserOut),
        (status = 401, description = "Missing, invalid or ended token"),
    ))]
pub async fn me(
    caller: AuthUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, actix_web::Error> {
    require_live_session(&state, &caller).await?;
    let id = caller.id;
    let user = state
        .db
        .run(move |conn| store::user_by_id(conn, id).map_err(ApiError::from))
        .await?
        // A token outliving its account (deleted since) is no longer a caller.
        .ok_or(shared_claims::AuthError::InvalidCredentials)?;
    Ok(HttpResponse::Ok().json(UserOut::from(user)))
}

/// Password change body.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PasswordChange {
    current_password: String,
    /// 8 characters to 72 bytes.
    new_password: String,
}

/// Changes the caller's password and ends every other session of theirs. A wrong current
/// password counts toward the login throttle like a failed login.
#[utoipa::path(put, path = "/users/me/password", tag = "Users", request_body = PasswordChange,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Changed; the caller's other sessions are ended"),
        (status = 401, description = "Missing, invalid or ended token"),
        (status = 403, description = "Invalid Credentials (wrong current password)"),
        (status = 422, description = "New password too short or too long"),
        (status = 429, description = "Too many failed password checks for this account"),
    ))]
pub async fn change_password(
    caller: AuthUser,
    state: web::Data<AppState>,
    body: Body,
) -> Result<HttpResponse, actix_web::Error> {
    require_live_session(&state, &caller).await?;
    let mut fields = body.read().await?.json_object()?;
    let current = fields.string("current_password");
    let new = new_password_field_named(&mut fields, "new_password");
    fields.finish()?;
    let (Some(current), Some(new)) = (current, new) else {
        return Err(ApiError::Internal("validated fields missing".into()).into());
    };

    let id = caller.id;
    let user = state
        .db
        .run(move |conn| store::user_by_id(conn, id).map_err(ApiError::from))
        .await?
        .ok_or(shared_claims::AuthError::InvalidCredentials)?;
    let now = service_kit::time::now_utc();
    let window = chrono::TimeDelta::minutes(state.throttle.window_minutes);
    let max_attempts = state.throttle.max_failures;
    let key = user.email_key.clone();
    let reservation = state
        .db
        .run(move |conn| store::reserve_login_attempt(conn, &key, now, now - window, max_attempts))
        .await
        .map_err(ApiError::from)?;
    refuse_if_throttled(reservation, &state.throttle, now)?;
    let verified = state
        .hasher
        .verify(current, Some(user.password_hash.clone()))
        .await;
    let outcome = match verified {
        Ok(true) => CheckOutcome::Succeeded,
        Ok(false) => CheckOutcome::Failed,
        Err(_) => CheckOutcome::NotChecked,
    };
    let key = user.email_key.clone();
    state
        .db
        .run(move |conn| store::settle_login_attempt(conn, &key, now, outcome))
        .await
        .map_err(ApiError::from)?;
    if !verified? {
        return Err(ApiError::Forbidden(INVALID_CREDENTIALS.into()).into());
    }

    let password_hash = state.hasher.hash(new).await?;
    let keep = caller.claims.sid.clone();
    let ended = state
        .db
        .run(move |conn| {
            store::change_password(conn, id, &password_hash, keep.as_deref(), now)
                .map_err(ApiError::from)
        })
        .await?;
    log::info!("user {id} changed their password; {ended} other session(s) ended");
    Ok(HttpResponse::NoContent().finish())
}
