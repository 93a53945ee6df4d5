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
    for expected in ["4 migration(s) applied", "0 migration(s) applied"] {
        let out = auth_service()
            .args(["migrate"])
            .env("DATABASE_URL", &url)
            .env("RUST_LOG", "info")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let log = String::from_utf8_lossy(&out.stderr);
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
