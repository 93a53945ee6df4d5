use posts_service::{Application, Config, StartError};
use shared_claims::Alg;

#[test]
fn defaults_match_the_design() {
    let c = Config::defaults();
    assert_eq!(c.common.bind_addr.to_string(), "127.0.0.1:8000");
    assert_eq!(c.common.database_url, "sqlite://data/posts.db");
    assert_eq!(c.common.pool.database_pool_size, None);
    assert!(
        c.common.db_options().unwrap().max_connections >= 4,
        "twice the cores, at least 4"
    );
    assert_eq!(c.common.pool.database_timeout_seconds, 5);
    assert_eq!(c.tokens.algorithm, Alg::EdDSA);
    assert_eq!(
        c.tokens.jwks_url,
        "http://127.0.0.1:8001/.well-known/jwks.json"
    );
    assert!(c.tokens.public_key_file.is_none());
    assert_eq!(c.tokens.issuer, "auth-service");
    assert_eq!(c.tokens.audience, "posts-service");
    assert_eq!(c.tokens.leeway_seconds, 0);
    assert_eq!(c.tokens.jwks_refresh_min_seconds, 10);
    assert_eq!(c.common.server.cors_allow_origins, "");
    assert!(c.tokens.validate().is_ok());
}

#[test]
fn bad_values_are_refused_naming_the_option() {
    let mut c = Config::defaults();
    c.tokens.algorithm = Alg::HS256;
    assert!(c.tokens.validate().unwrap_err().contains("JWT_SECRET"));
    c.tokens.secret = Some("short".into());
    assert!(c.tokens.validate().unwrap_err().contains("JWT_SECRET"));
    c.tokens.secret = Some("x".repeat(32).into());
    assert!(c.tokens.validate().is_ok());

    let mut c = Config::defaults();
    c.tokens.jwks_url = "not a url".into();
    assert!(c.tokens.validate().unwrap_err().contains("JWT_JWKS_URL"));

    use clap::Parser;
    let err =
        posts_service::config::Cli::try_parse_from(["posts-service", "--jwt-leeway-seconds", "x"])
            .unwrap_err()
            .to_string();
    assert!(err.contains("--jwt-leeway-seconds"), "{err}");
}

#[actix_web::test]
async fn an_unreadable_public_key_file_stops_start_up() {
    let mut c = Config::defaults();
    c.common.bind_addr = "127.0.0.1:0".parse().unwrap();
    c.tokens.public_key_file = Some("/nonexistent/key.pem".into());
    match Application::build(c).await {
        Err(StartError::Config(msg)) => assert!(msg.contains("JWT_PUBLIC_KEY_FILE"), "{msg}"),
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("started without a key"),
    }
}

#[actix_web::test]
async fn database_urls_the_service_cannot_use_stop_it_at_start_naming_the_problem() {
    for (url, problem) in test_support::UNUSABLE_DATABASE_URLS {
        let mut c = Config::defaults();
        c.common.bind_addr = "127.0.0.1:0".parse().unwrap();
        c.common.database_url = url.into();
        let message = match Application::build(c).await {
            Err(e @ StartError::DatabaseUrl { .. }) => e.to_string(),
            Err(other) => panic!("{url:?}: unexpected error {other}"),
            Ok(_) => panic!("{url:?}: started"),
        };
        assert!(message.contains("DATABASE_URL"), "{url:?}: {message}");
        assert!(message.contains(problem), "{url:?}: {message}");
        assert!(
            !message.contains("s3cret"),
            "{url:?}: password shown: {message}"
        );
    }
}

#[test]
fn the_migrate_subcommand_refuses_them_too() {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_posts-service"));
    let out = cmd
        .env_clear()
        .current_dir(std::env::temp_dir())
        .arg("migrate")
        .env("DATABASE_URL", "sqlite://:memory:")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("DATABASE_URL") && stderr.contains("in-memory"),
        "{stderr}"
    );
}
