//! libpq's multi-host connection strings against real servers: with the first host dead the
//! service connects to the next; with a standby listed first and
//! `target_session_attrs=read-write` it writes on the primary. PostgreSQL only; the standby
//! test also needs to run the server's tools as the `postgres` user (root, as CI runs), and
//! is skipped otherwise.

use std::path::PathBuf;
use std::process::Command;

use diesel::sql_types::Bool;
use diesel::RunQueryDsl;
use service_kit::{with_conn, Backend, DatabaseUrl, DbConn};

use crate::helpers::{spawn_app_with, start, test_config, PASSWORD};

/// `url` (on 127.0.0.1:5432, as the test databases are) with `first` listed before it.
fn with_host_before(url: &str, first: &str) -> String {
    assert!(url.contains("@127.0.0.1:5432/"), "{url}");
    url.replacen("@127.0.0.1:5432/", &format!("@{first},127.0.0.1:5432/"), 1)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[actix_web::test]
async fn with_the_first_host_dead_the_service_connects_to_the_next() {
    if !service_kit::testing::postgres_tests_run() {
        return;
    }
    let backend = Backend::Postgres;
    {
        let dead = format!("127.0.0.1:{}", free_port());
        let app = spawn_app_with(backend, |c| {
            c.common.database_url = with_host_before(&c.common.database_url, &dead);
        })
        .await;
        let id = app.create_user("alice@example.com").await;
        assert!(id > 0);
        assert_eq!(app.login("alice@example.com", PASSWORD).await.status(), 200);
    }
}

#[actix_web::test]
async fn with_a_standby_listed_first_read_write_goes_to_the_primary() {
    if !service_kit::testing::postgres_tests_run() {
        return;
    }
    {
        // The database first, then the standby copied from the server holding it (a standby
        // without the database refuses the connection, and libpq does not try further hosts
        // after a server has answered).
        let db = service_kit::testing::TestDatabase::create(Backend::Postgres, "hosts");
        let Some(standby) = Standby::start() else {
            // CI runs as root with PostgreSQL's tools: there, not starting one is a failure.
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true: could not start a standby (pg_basebackup and pg_ctl run as postgres)"
            );
            eprintln!("skipped: cannot start a standby here (needs root to run pg_basebackup as postgres)");
            return;
        };
        let standby_host = format!("127.0.0.1:{}", standby.port);
        let key_dir = tempfile::tempdir().unwrap();
        let mut config = test_config(&db, &key_dir);
        config.common.database_url = format!(
            "{}?target_session_attrs=read-write",
            with_host_before(&config.common.database_url, &standby_host)
        );
        let app = start(config, db, key_dir).await;
        // Writes work: the pool's connections are on the primary.
        app.create_user("alice@example.com").await;
        assert_eq!(app.login("alice@example.com", PASSWORD).await.status(), 200);
        // The same hosts with `standby` reach the standby, with `read-write` the primary.
        let url = with_host_before(&app._db.url, &standby_host);
        assert!(in_recovery(&format!("{url}?target_session_attrs=standby")));
        assert!(!in_recovery(&format!(
            "{url}?target_session_attrs=read-write"
        )));
        assert!(!in_recovery(&format!("{url}?target_session_attrs=primary")));
    }
}

#[derive(diesel::QueryableByName)]
struct Recovery {
    #[diesel(sql_type = Bool)]
    in_recovery: bool,
}

/// Whether the server a connection string reaches is a standby.
fn in_recovery(url: &str) -> bool {
    let url = DatabaseUrl::parse(url).unwrap();
    assert_eq!(url.backend(), Backend::Postgres);
    let mut conn = DbConn::establish(&url).unwrap();
    let row: Recovery = with_conn!(&mut conn, |c| diesel::sql_query(
        "SELECT pg_is_in_recovery() AS in_recovery"
    )
    .get_result(c))
    .unwrap();
    row.in_recovery
}

/// A streaming standby of the test server (127.0.0.1:5432), made with pg_basebackup and run
/// as `postgres` on a free port; stopped and removed when dropped.
struct Standby {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

fn as_postgres(script: &str) -> bool {
    Command::new("su")
        .args(["postgres", "-s", "/bin/sh", "-c", script])
        .status()
        .is_ok_and(|s| s.success())
}

impl Standby {
    fn start() -> Option<Standby> {
        let root = Command::new("id").arg("-u").output().ok()?;
        if String::from_utf8_lossy(&root.stdout).trim() != "0" {
            return None;
        }
        // postgres://USER:PASSWORD@127.0.0.1:5432/…
        let admin = std::env::var("TEST_POSTGRES_URL").ok()?;
        let userinfo = admin.split_once("://")?.1.split_once('@')?.0;
        let password = userinfo.split_once(':').map_or("", |(_, p)| p).to_owned();
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|b| b.join("pg_basebackup").is_file())
            .max()?;
        let dir = tempfile::Builder::new()
            .prefix("standby")
            .tempdir_in("/tmp")
            .ok()?;
        let status = Command::new("chown")
            .args(["postgres:postgres", &dir.path().display().to_string()])
            .status()
            .ok()?;
        if !status.success() {
            return None;
        }
        let port = free_port();
        let (d, b) = (dir.path().display().to_string(), bin.display().to_string());
        let made = as_postgres(&format!(
            "PGPASSWORD='{password}' {b}/pg_basebackup -h 127.0.0.1 -p 5432 -U postgres \
             -D {d}/data -R -X stream -c fast"
        ));
        let standby = Standby { dir, bin, port };
        if !made {
            return None;
        }
        // Debian keeps a cluster's configuration outside its data folder: give the copy its
        // own (password logins over loopback, as the primary's).
        let configured = as_postgres(&format!(
            "printf '' > {d}/data/postgresql.conf && \
             printf 'local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n' > {d}/data/pg_hba.conf"
        ));
        assert!(configured, "could not configure the standby in {d}");
        let started = as_postgres(&format!(
            "{b}/pg_ctl -D {d}/data -l {d}/log -w -t 60 -o \
             '-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={d}' start"
        ));
        if !started {
            let log = std::fs::read_to_string(format!("{d}/log")).unwrap_or_default();
            panic!("the standby did not start:\n{log}");
        }
        Some(standby)
    }
}

impl Drop for Standby {
    fn drop(&mut self) {
        as_postgres(&format!(
            "{}/pg_ctl -D {}/data -m immediate -w stop",
            self.bin.display(),
            self.dir.path().display()
        ));
    }
}
