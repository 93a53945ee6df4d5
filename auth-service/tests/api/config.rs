//! The binary's configuration surface: every option documented, bad values named.

use std::process::Command;

fn auth_service() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_auth-service"));
    // Only what the test sets: nothing from the developer's environment or a .env file.
    cmd.env_clear().current_dir(std::env::temp_dir());
    cmd
}

#[test]
fn help_documents_every_option_with_its_environment_variable() {
    let out = auth_service().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for var in [
        "BIND_ADDR",
        "DATABASE_URL",
        "ACCESS_TOKEN_EXPIRE_MINUTES",
        "ACCESS_TOKEN_EXPIRE_SECONDS",
        "JWT_ALGORITHM",
        "JWT_PRIVATE_KEY_FILE",
        "JWT_SECRET",
        "JWT_ISSUER",
        "JWT_AUDIENCE",
        "BCRYPT_COST",
        "BCRYPT_QUEUE",
        "LOGIN_MAX_FAILURES",
        "LOGIN_LOCK_SECONDS",
        "DEVICE_MAX_FAILURES",
        "RATE_LIMIT_SIGNUP",
        "TRUSTED_PROXIES",
        "CORS_ALLOW_ORIGINS",
    ] {
        assert!(help.contains(var), "--help does not mention {var}");
    }
}

#[test]
fn a_bad_value_stops_start_up_naming_the_variable() {
    for (var, value) in [
        ("BCRYPT_COST", "abc"),
        ("BCRYPT_COST", "3"),
        ("RATE_LIMIT_SIGNUP", "20"),
        ("RATE_LIMIT_LOGIN", "30/10"),
        ("TRUSTED_PROXIES", "10.0.0.0/33"),
        ("ACCESS_TOKEN_EXPIRE_MINUTES", "0"),
        ("ACCESS_TOKEN_EXPIRE_SECONDS", "0"),
        ("ACCESS_TOKEN_EXPIRE_SECONDS", "31536001"),
        ("ACCESS_TOKEN_EXPIRE_SECONDS", "2s"),
        ("BIND_ADDR", "nowhere"),
        ("JWT_ALGORITHM", "RS256"),
    ] {
        let out = auth_service().env(var, value).output().unwrap();
        assert!(!out.status.success(), "{var}={value} should stop start-up");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let flag = format!("--{}", var.to_lowercase().replace('_', "-"));
        assert!(
            stderr.contains(var) || stderr.contains(&flag),
            "{var}={value}: message does not name it: {stderr}"
        );
    }
}

#[test]
fn migrate_applies_the_migrations_once_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/auth.db", dir.path().display());
    for expected in ["8 migration(s) applied", "0 migration(s) applied"] {
        let out = auth_service()
            .args(["migrate"])
            .env("DATABASE_URL", &url)
            .env("RUST_LOG", "info")
            .output()
            .unwrap();
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{log}");
        assert!(log.contains(expected), "{log}");
    }
    assert!(dir.path().join("auth.db").is_file());
}

#[test]
fn healthcheck_fails_when_nothing_answers() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = free.local_addr().unwrap();
    drop(free);
    let out = auth_service()
        .args(["healthcheck"])
        .env("BIND_ADDR", addr.to_string())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not healthy"));
}

/// Starts the binary in an empty folder with only `vars`, and gives it `wait` to stop on its
/// own: the exit status (`None` when it was still running, and was then killed), its
/// standard error, and what it left in the folder.
fn run_briefly(
    vars: &[(&str, &str)],
    wait: std::time::Duration,
) -> (Option<std::process::ExitStatus>, String, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let mut child = auth_service()
        .current_dir(dir.path())
        .envs(vars.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > wait {
            child.kill().unwrap();
            child.wait().unwrap();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let stderr = std::io::read_to_string(child.stderr.take().unwrap()).unwrap();
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    (status, stderr, left)
}

/// Asserts the binary stopped at once with one line naming `option` and `problem`.
fn assert_refused(vars: &[(&str, &str)], option: &str, problem: &str) -> Vec<String> {
    let (status, stderr, left) = run_briefly(vars, std::time::Duration::from_secs(10));
    let status = status.unwrap_or_else(|| panic!("{vars:?}: started instead of stopping"));
    assert!(!status.success(), "{vars:?}: exited 0");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{vars:?}: one line expected: {stderr}");
    assert!(lines[0].starts_with("auth-service: "), "{stderr}");
    assert!(
        lines[0].contains(option),
        "{vars:?}: does not name {option}: {stderr}"
    );
    assert!(
        lines[0].contains(problem),
        "{vars:?}: does not say {problem}: {stderr}"
    );
    assert!(
        !stderr.contains("s3cret"),
        "{vars:?}: password shown: {stderr}"
    );
    left
}

#[test]
fn database_urls_the_service_cannot_use_stop_it_at_start_naming_the_problem() {
    for (url, problem) in test_support::UNUSABLE_DATABASE_URLS {
        let left = assert_refused(&[("DATABASE_URL", url)], "DATABASE_URL", problem);
        assert!(left.is_empty(), "{url}: created {left:?}");
    }
}

#[test]
fn course_and_audience_settings_that_would_weaken_tokens_stop_start_up() {
    let until = ("COURSE_TOKEN_UNTIL", "2099-01-01T00:00:00Z");
    for (vars, option, problem) in [
        (vec![("JWT_AUDIENCE", " ")], "JWT_AUDIENCE", "empty"),
        (
            vec![("COURSE_TOKEN_SECRET", "short"), until],
            "COURSE_TOKEN_SECRET",
            "at least 32 bytes",
        ),
        (
            vec![
                (
                    "COURSE_TOKEN_SECRET",
                    shared_claims::COURSE_TUTORIAL_SECRET_KEY,
                ),
                until,
            ],
            "COURSE_TOKEN_SECRET",
            "published",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let db = format!("sqlite://{}/auth.db", dir.path().display());
        let mut vars = vars;
        vars.push(("DATABASE_URL", &db));
        assert_refused(&vars, option, problem);
    }
}

#[test]
fn a_missing_key_file_stops_start_up_instead_of_generating_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/auth.db", dir.path().display());
    let key = dir.path().join("secrets").join("signing-key.pem");
    let key = key.to_str().unwrap();
    assert_refused(
        &[("DATABASE_URL", &db), ("JWT_PRIVATE_KEY_FILE", key)],
        &format!("JWT_PRIVATE_KEY_FILE {key}: no such file"),
        "JWT_GENERATE_KEY",
    );
    assert!(!dir.path().join("secrets").exists(), "no folder created");
    assert!(!dir.path().join("auth.db").exists(), "nothing migrated");

    // Asked for explicitly, the key is generated there.
    let (status, stderr, _) = run_briefly(
        &[
            ("DATABASE_URL", &db),
            ("JWT_PRIVATE_KEY_FILE", key),
            ("JWT_GENERATE_KEY", "true"),
            ("BIND_ADDR", "127.0.0.1:0"),
            ("BCRYPT_COST", "4"),
        ],
        std::time::Duration::from_secs(3),
    );
    assert!(status.is_none(), "stopped: {stderr}");
    assert!(std::path::Path::new(key).is_file(), "{stderr}");
}

#[test]
fn the_default_key_path_still_gets_a_generated_key() {
    let (status, stderr, left) = run_briefly(
        &[("BIND_ADDR", "127.0.0.1:0"), ("BCRYPT_COST", "4")],
        std::time::Duration::from_secs(3),
    );
    assert!(status.is_none(), "stopped: {stderr}");
    assert!(
        stderr.contains("generated a new Ed25519 signing key"),
        "{stderr}"
    );
    assert_eq!(left, ["data"]);
}

mod key_files {
    use auth_service::{Application, Config, StartError};

    /// An RSA key in PKCS#8 PEM: a well-formed key, of the wrong kind.
    const RSA_PKCS8_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIICeAIBADANBgkqhkiG9w0BAQEFAASCAmIwggJeAgEAAoGBAKrMKbzjTj/LU/Hl
rgruNMQlfoI6BO0jT6dJ185p3sFlqyhanqX2tgkvSlojq3eaUSZMbrRL05lcA32E
P3j2j6tv/tbBKixdQg/1weidWZWvzlGViS3NwKDvrVd/whwaww/bK4Jstr03PJFI
6n3LOPSusV1jH2rx60p9VhoJntMXAgMBAAECgYEAjJpb9bpuDUhWR7mbaDYmzB5N
oekfaxR5my7H8I3pKe6HU0YeemO6AZ+jpsbcfi5UhaHANL6DaCl+WhLHqc3YAKHv
SsK05XCmavtnJNbOE98f95J8UaYUmzmpyOfb4zPbqqEF0kOdddAWSYksn6PpYwfK
lfloAQHG8OYo9C67EsECQQDdaokOJ9tWo7UHjALd349zS9l1Q2+re4IQzB7rvH8d
tjo0RndwNq3LB5yRG2klUX+pxLwEdzgNbJUHgKeVgWnhAkEAxXmb/N8/+qNUapnw
3HDZVnh2n94D7n2oB5ebwFnjxEzM3F+9LMvvrjNTTu2rCPdhutKg7HtYvq1b4gCn
YtUL9wJBAJavHzEEDPCsntHRBk5rC9xCXW7Bgyjn9/9oew6hjLzyvC/BWR2ECMio
mHPkfK1KBqDJ488CN6JjKBUgCGzl0uECQHTnChYH36szt4yn9zO4xqDvDWKUnwU3
dBqSgMy9Kh4STRCEyMvVKt2YWtAV2LOlJ0De4g888gtnO0aulmjmsH8CQQCNgmdA
/3gsGZpEIwGLdVoN6sljBzOegVHowX2dP4EY/3Rez5p+GYzeSXnMgcTXU2V4dOgK
n7ikg1aE24xYJcN5
-----END PRIVATE KEY-----
";

    fn config(dir: &tempfile::TempDir, key: std::path::PathBuf) -> Config {
        let mut c = Config::defaults();
        c.common.bind_addr = "127.0.0.1:0".parse().unwrap();
        c.common.database_url = format!("sqlite://{}/auth.db", dir.path().display());
        c.bcrypt_cost = 4;
        c.jwt_private_key_file = key;
        c
    }

    async fn stop(server: service_kit::http::BoundServer) {
        let handle = server.handle();
        actix_web::rt::spawn(server.run_until_stopped());
        handle.stop(false).await;
    }

    async fn refusal(config: Config) -> String {
        match Application::build(config).await {
            Err(e @ (StartError::KeyFile { .. } | StartError::MissingKeyFile { .. })) => {
                e.to_string()
            }
            Err(other) => panic!("not a key file error: {other}"),
            Ok(_) => panic!("started"),
        }
    }

    #[actix_web::test]
    async fn key_file_errors_name_the_option_and_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let corrupt = dir.path().join("corrupt.pem");
        std::fs::write(
            &corrupt,
            "-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let rsa = dir.path().join("rsa.pem");
        std::fs::write(&rsa, RSA_PKCS8_PEM).unwrap();
        let public = dir.path().join("public.pem");
        let key = shared_claims::SigningKey::generate().unwrap();
        std::fs::write(&public, key.public_key_pem()).unwrap();
        for (path, problem) in [
            (dir.path().to_path_buf(), "Is a directory"),
            (corrupt, "invalid PEM"),
            (rsa, "not an Ed25519 PKCS#8 key"),
            (public, "expected a `PRIVATE KEY` block"),
        ] {
            let message = refusal(config(&dir, path.clone())).await;
            let named = format!("JWT_PRIVATE_KEY_FILE {}", path.display());
            assert!(message.contains(&named), "{message}");
            assert!(message.contains(problem), "{message}");
        }
    }

    #[actix_web::test]
    async fn a_key_is_generated_at_a_configured_path_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys").join("signing-key.pem");
        let message = refusal(config(&dir, path.clone())).await;
        assert!(message.contains("JWT_GENERATE_KEY"), "{message}");
        assert!(!path.exists());

        let mut asked = config(&dir, path.clone());
        asked.jwt_generate_key = true;
        let server = Application::build(asked.clone()).await.expect("starts");
        stop(server).await;
        assert!(path.is_file(), "generated when asked");
        // Once there, the key is used as it is, asked or not.
        asked.jwt_generate_key = false;
        let server = Application::build(asked)
            .await
            .expect("starts with the generated key");
        stop(server).await;
    }

    #[test]
    fn jwt_generate_key_reads_as_a_flag_and_as_a_variable() {
        use clap::Parser;
        let parse = |args: &[&str]| auth_service::config::Cli::try_parse_from(args).unwrap();
        assert!(
            parse(&["auth-service", "--jwt-generate-key"])
                .config
                .jwt_generate_key
        );
        assert!(!parse(&["auth-service"]).config.jwt_generate_key);
    }

    #[test]
    fn the_settings_print_no_shared_secret_and_no_database_password() {
        use clap::Parser;
        let secret = "a-shared-secret-of-at-least-32-bytes";
        let cli = auth_service::config::Cli::try_parse_from([
            "auth-service",
            "--jwt-algorithm",
            "HS256",
            "--jwt-secret",
            secret,
        ])
        .unwrap();
        let shown = format!("{:?}", cli.config);
        assert!(!shown.contains(secret), "{shown}");
        let cli = auth_service::config::Cli::try_parse_from([
            "auth-service",
            "--database-url",
            "postgres://auth:s3cret-pw@db/auth",
        ])
        .unwrap();
        let shown = format!("{:?}", cli.config);
        assert!(!shown.contains("s3cret-pw"), "{shown}");
        assert!(shown.contains("postgres://auth:***@db/auth"), "{shown}");
        assert!(cli.config.validate().is_ok());
    }
}
