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
