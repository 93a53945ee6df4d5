//! The skeleton's side of the resource server ([`shared_claims::resource`]): a service that
//! accepts the auth service's tokens builds its state with [`started`] and adds
//! [`routes`]; the keys, the feed of ended sessions, the wait before listening, `/readyz`'s
//! token checks, the token metrics and `GET /revocations` then come with it. (The token
//! contract cannot know the skeleton, nor the skeleton depend on the contract for services
//! that verify no tokens, so this glue is behind the `tokens` feature.)
//!
//! ```ignore
//! fn state(config: &Config, db: Db) -> Result<Started<Self::State>, StartError> {
//!     service_kit::tokens::started(&config.tokens, web::Data::new(AppState { db }))
//! }
//! ```

use actix_web::{web, HttpResponse};
use shared_claims::resource::{self, ResourceError, ResourceServer, ResourceServerArgs, Sample};
use shared_claims::Verifier;

use crate::metrics::{Metrics, Scrape};
use crate::service::{AppData, Ready, Started};
use crate::{Db, StartError};

/// Starts the resource server of `args` and returns the service's `state` beside its
/// verifier (registered for the `AuthUser` extractor), with the tasks that keep the keys and
/// the list of ended sessions current and the wait for them before listening.
pub fn started<S: AppData>(
    args: &ResourceServerArgs,
    state: S,
) -> Result<Started<(S, web::Data<Verifier>)>, StartError> {
    let tokens = ResourceServer::start(args).map_err(|e| match e {
        ResourceError::Config(message) => StartError::Config(message),
        ResourceError::Key(e) => StartError::key(e),
    })?;
    Ok(Started {
        state: (state, tokens.verifier),
        background: tokens.background,
        ready: tokens.ready.map(|wait| Ready {
            what: wait.what,
            until: wait.until,
            within: wait.within,
        }),
    })
}

/// `/readyz` (the database, the keys, the list of ended sessions), `/metrics` (requests, the
/// pool, the token side) and `GET /revocations`, for a service whose handlers' state `S`
/// holds its [`Db`] (`db` says where), besides the skeleton's `/` and `/healthz`.
pub fn routes<S: Send + Sync + 'static>(cfg: &mut web::ServiceConfig, db: fn(&S) -> &Db) {
    crate::http::common_routes(cfg);
    cfg.route(
        "/readyz",
        web::get().to(
            move |state: web::Data<S>, verifier: web::Data<Verifier>| async move {
                readyz(db(&state), &verifier).await
            },
        ),
    )
    .route(
        "/metrics",
        web::get().to(
            move |metrics: web::Data<Metrics>,
                  state: web::Data<S>,
                  verifier: web::Data<Verifier>| async move {
                scrape(metrics.scrape().db_pool(db(&state).stats()), &verifier).response()
            },
        ),
    );
    resource::routes(cfg);
}

/// Ready when the database answers, the token keys are loaded and, when there is a feed of
/// ended sessions, their list has loaded once: until then a token gets 503.
async fn readyz(db: &Db, verifier: &Verifier) -> HttpResponse {
    let [keys, ended_sessions] = resource::readiness(verifier);
    crate::http::readiness(&[("database", db.is_ready().await), keys, ended_sessions])
}

/// `scrape` with the token side's metrics added: fetches of the JWKS, the keys held, and the
/// list of ended sessions when there is a feed of them.
pub fn scrape(scrape: Scrape, verifier: &Verifier) -> Scrape {
    resource::metrics(verifier).into_iter().fold(
        scrape,
        |scrape, (name, help, sample)| match sample {
            Sample::Counter(total) => scrape.counter(name, help, total),
            Sample::Gauge(value) => scrape.gauge(name, help, value),
        },
    )
}
