//! `POST /users/` (sign up), `GET /users/{id}`, `GET /users/me` and
//! `PUT /users/me/password`.

use actix_web::middleware::from_fn;
use actix_web::{web, HttpResponse};
use chrono::NaiveDateTime;
use serde::Serialize;
use serde_json::json;
use service_kit::input::{Body, Detail, PathId, ValidationErrors};
use service_kit::ApiError;
use utoipa::ToSchema;

use crate::config::PasswordPolicy;
use crate::credentials::{check_password, Counter};
use crate::domain::{NewPassword, PasswordChange, SignUp};
use crate::error::Error;
use crate::limits::{self, Route};
use crate::lookups::masked_email;
use crate::routes::{BodyTooLarge, Overloaded};
use crate::sessions::LiveSession;
use crate::store::{self, User};
use crate::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    // Every answer here is an account (or a refusal about one): never cached. The limits
    // wrap inside, so their 429s are not cached either.
    use service_kit::http::no_store;
    cfg.service(
        web::resource(["/users", "/users/"])
            .wrap(from_fn(limits::middleware(Route::Signup)))
            .wrap(no_store())
            .route(web::post().to(create_user)),
    )
    // Before `/users/{id}`, which would take `me` for an id.
    .service(
        web::resource(["/users/me", "/users/me/"])
            .wrap(no_store())
            .route(web::get().to(me)),
    )
    .service(
        web::resource(["/users/me/password", "/users/me/password/"])
            .wrap(from_fn(limits::middleware(Route::Password)))
            .wrap(no_store())
            .route(web::put().to(change_password)),
    )
    .service(
        web::resource(["/users/{id}", "/users/{id}/"])
            .wrap(no_store())
            .route(web::get().to(get_user)),
    );
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

/// Creates an account.
#[utoipa::path(post, path = "/users/", tag = "Users", request_body = SignUp,
    responses(BodyTooLarge, Overloaded,
        (status = 201, description = "Created", body = UserOut),
        (status = 409, description = "Email already registered", body = Detail),
        (status = 422, description = "Invalid email or password", body = ValidationErrors),
        (status = 429, description = "Too many sign-ups from this client or to this route; see Retry-After and RateLimit", body = Detail),
    ))]
pub async fn create_user(state: web::Data<AppState>, body: Body) -> Result<HttpResponse, Error> {
    let SignUp { email, password } = body.json().await?;
    let password = strong_enough(&state, password, email.address(), "password").await?;

    let password_hash = state.hasher.hash(password.into_inner()).await?;
    let created = state
        .db
        .run(move |conn| {
            let skeleton = email.skeleton();
            let new = store::NewUser {
                email: email.address(),
                email_key: email.key(),
                password_hash: &password_hash,
                created_at: service_kit::time::now_utc(),
                email_skeleton: &skeleton,
            };
            match store::insert_user_unless_confusable(conn, &new) {
                Err(e) if e.is_unique_violation() => Err(ApiError::Conflict(format!(
                    "User with email: {} already exists",
                    email.address()
                ))
                .into()),
                Ok(None) => Err(ApiError::Conflict(format!(
                    "User with email: {} already exists (an address that looks the same is \
                     registered)",
                    email.address()
                ))
                .into()),
                Ok(Some(user)) => Ok(user),
                Err(other) => Err(Error::from(other)),
            }
        })
        .await?;
    log::info!("user {} signed up", created.id);
    Ok(HttpResponse::Created().json(UserOut::from(created)))
}

/// The password, once `PASSWORD_POLICY=strict` (if set) has judged it for `email`'s
/// account: else 422 at `field`. The estimate takes milliseconds, so it runs off the worker.
async fn strong_enough(
    state: &AppState,
    password: NewPassword,
    email: &str,
    field: &'static str,
) -> Result<NewPassword, Error> {
    if state.password_policy != PasswordPolicy::Strict {
        return Ok(password);
    }
    let email = email.to_owned();
    let (password, judged) = web::block(move || {
        let judged = password.check_strength(&email);
        (password, judged)
    })
    .await
    .map_err(|_| ApiError::Internal("the password strength check stopped".into()))?;
    judged
        .map_err(|invalid| ApiError::validation(invalid.at(vec![json!("body"), json!(field)])))?;
    Ok(password)
}

/// The account with `id`, if there is one.
async fn user_by_id(state: &AppState, id: i64) -> Result<Option<User>, Error> {
    state
        .db
        .run(move |conn| store::user_by_id(conn, id).map_err(Error::from))
        .await
}

/// The caller's account. A token outliving its account (deleted since) is no longer a
/// caller: 401.
async fn account_of(state: &AppState, caller: &LiveSession) -> Result<User, Error> {
    user_by_id(state, caller.id)
        .await?
        .ok_or_else(Error::unauthorized)
}

/// Reads one account. The caller's own shows its email; another's shows it masked
/// (`a***@example.com`: first character, then the domain), and a caller may look up at most
/// `USER_LOOKUPS_PER_MINUTE` other accounts a minute (429 + `Retry-After` past it).
#[utoipa::path(get, path = "/users/{id}", tag = "Users",
    params(PathId),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user (the email masked unless it is the caller's)", body = UserOut),
        (status = 401, description = "Missing or invalid token", body = Detail),
        (status = 404, description = "No such user", body = Detail),
        (status = 422, description = "Not a valid id", body = ValidationErrors),
        (status = 429, description = "Too many other accounts looked up this minute; see Retry-After", body = Detail),
    ))]
pub async fn get_user(
    caller: LiveSession,
    id: PathId,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Error> {
    let id = id.get();
    let own = id == caller.id;
    if !own {
        state
            .lookups
            .check(caller.id)
            .map_err(|retry_after| ApiError::TooManyRequests {
                detail: "Too many accounts looked up; try again later".into(),
                retry_after,
            })?;
    }
    let user = user_by_id(&state, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("User with id: {id} does not exist")))?;
    let mut out = UserOut::from(user);
    if !own {
        out.email = masked_email(&out.email);
    }
    Ok(HttpResponse::Ok().json(out))
}

/// The caller's own account.
#[utoipa::path(get, path = "/users/me", tag = "Users",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller", body = UserOut),
        (status = 401, description = "Missing, invalid or ended token", body = Detail),
    ))]
pub async fn me(caller: LiveSession, state: web::Data<AppState>) -> Result<HttpResponse, Error> {
    let user = account_of(&state, &caller).await?;
    Ok(HttpResponse::Ok().json(UserOut::from(user)))
}

/// Changes the caller's password and ends every other session of theirs. A wrong current
/// password counts against the caller's session (not the account: others' failed logins
/// never lock a logged-in owner out of this).
#[utoipa::path(put, path = "/users/me/password", tag = "Users", request_body = PasswordChange,
    security(("bearer" = [])),
    responses(BodyTooLarge, Overloaded,
        (status = 204, description = "Changed; the caller's other sessions are ended"),
        (status = 401, description = "Missing, invalid or ended token", body = Detail),
        (status = 403, description = "Invalid Credentials (wrong current password)", body = Detail),
        (status = 422, description = "Missing field, or new password too short or too long", body = ValidationErrors),
        (status = 429, description = "Too many wrong current passwords in this session, or too many requests from this client or to this route; see Retry-After (and RateLimit)", body = Detail),
    ))]
pub async fn change_password(
    caller: LiveSession,
    state: web::Data<AppState>,
    body: Body,
) -> Result<HttpResponse, Error> {
    let PasswordChange {
        current_password,
        new_password,
    } = body.json().await?;
    let user = account_of(&state, &caller).await?;
    let new_password = strong_enough(&state, new_password, &user.email, "new_password").await?;
    let counter = Counter::Session(match &caller.claims.sid {
        Some(sid) => format!("session:{sid}"),
        // A course token has no session: its user's own counter, still not the account's.
        None => format!("user:{}", user.id),
    });
    if check_password(&state, user.email_key, current_password, counter)
        .await?
        .is_none()
    {
        return Err(Error::invalid_credentials());
    }

    let password_hash = state.hasher.hash(new_password.into_inner()).await?;
    let (id, keep) = (user.id, caller.claims.sid.clone());
    let now = service_kit::time::now_utc();
    let refuse_course_tokens = state.course_tokens;
    let ended = state
        .db
        .run(move |conn| {
            let ended = store::change_password(conn, id, &password_hash, keep.as_deref(), now)?;
            // The course tokens of the old password stop too (they cannot be told apart).
            if refuse_course_tokens {
                store::refuse_course_tokens(conn, id, now)?;
            }
            Ok::<_, Error>(ended)
        })
        .await?;
    log::info!("user {id} changed their password; {ended} other session(s) ended");
    Ok(HttpResponse::NoContent().finish())
}
