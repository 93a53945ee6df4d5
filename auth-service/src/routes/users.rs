//! `POST /users/` (sign up) and `GET /users/{id}`.

use actix_web::{web, HttpResponse};
use chrono::NaiveDateTime;
use serde::Serialize;
use service_kit::input::{path_id, Body};
use service_kit::ApiError;
use shared_claims::AuthUser;
use utoipa::ToSchema;

use crate::domain::{email_field, new_password_field};
use crate::store::{self, NewUser, User};
use crate::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource(["/users", "/users/"]).route(web::post().to(create_user)))
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
    _caller: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&id, "id")?;
    let user = state
        .db
        .run(move |conn| store::user_by_id(conn, id).map_err(ApiError::from))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("User with id: {id} does not exist")))?;
    Ok(HttpResponse::Ok().json(UserOut::from(user)))
}
