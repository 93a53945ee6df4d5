//! A fresh database per test, on either backend (PostgreSQL ones copied from a template
//! migrated once).

use std::sync::{Arc, Weak};

use diesel::RunQueryDsl;

use super::{postgres_admin_url, postgres_tests_run};
use crate::db::{sqlite_path, Backend, DbConn};

/// A database of its own for one test, removed when dropped.
pub struct TestDatabase {
    pub url: String,
    cleanup: Cleanup,
    /// The template this database was cloned from, kept while any clone lives (dropped after
    /// `cleanup` has run: fields drop in order).
    _template: Option<Arc<Template>>,
}

enum Cleanup {
    Dir(std::path::PathBuf),
    Postgres { admin_url: String, name: String },
}

impl TestDatabase {
    /// Creates an empty database on `backend`. Panics (failing the test) when PostgreSQL is
    /// not reachable: a test that creates one outside [`backend_tests!`](crate::backend_tests)
    /// checks [`postgres_tests_run`] first.
    pub fn create(backend: Backend, label: &str) -> TestDatabase {
        let unique = uuid::Uuid::new_v4().simple().to_string();
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("{label}-test-{unique}"));
                std::fs::create_dir_all(&dir).expect("create temp dir");
                TestDatabase {
                    url: format!("sqlite://{}/{label}.db", dir.display()),
                    cleanup: Cleanup::Dir(dir),
                    _template: None,
                }
            }
            Backend::Postgres => {
                let name = format!("{label}_test_{unique}").replace('-', "_");
                let admin_url = postgres_admin_url();
                admin_execute(&admin_url, &format!("CREATE DATABASE \"{name}\""));
                TestDatabase {
                    url: database_url(&admin_url, &name),
                    cleanup: Cleanup::Postgres { admin_url, name },
                    _template: None,
                }
            }
        }
    }

    /// An empty PostgreSQL database for a test that runs on PostgreSQL only, or `None` when
    /// this run's PostgreSQL variants are skipped (see [`postgres_tests_run`]): the test
    /// returns then.
    pub fn postgres(label: &str) -> Option<TestDatabase> {
        postgres_tests_run().then(|| TestDatabase::create(Backend::Postgres, label))
    }

    /// A database on `backend` with the service's migrations already applied. On PostgreSQL
    /// it is a copy (`CREATE DATABASE ... TEMPLATE`) of a template that `migrate` migrated
    /// once for this `label` and test binary: copying is cheaper than migrating each test's
    /// database. The template is dropped with the last database copied from it, so a run
    /// leaves no database behind. On SQLite it is an empty file the service migrates when it
    /// starts, as before.
    ///
    /// `migrate` receives the template's URL and must close its connections when done
    /// (any left open are ended before the template is copied).
    pub async fn create_migrated<F, Fut>(backend: Backend, label: &str, migrate: F) -> TestDatabase
    where
        F: FnOnce(String) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        if backend == Backend::Sqlite {
            return TestDatabase::create(backend, label);
        }
        let template = Template::for_label(label, migrate).await;
        let unique = uuid::Uuid::new_v4().simple().to_string();
        let name = format!("{label}_test_{unique}").replace('-', "_");
        admin_execute(
            &template.admin_url,
            &format!("CREATE DATABASE \"{name}\" TEMPLATE \"{}\"", template.name),
        );
        TestDatabase {
            url: database_url(&template.admin_url, &name),
            cleanup: Cleanup::Postgres {
                admin_url: template.admin_url.clone(),
                name,
            },
            _template: Some(template),
        }
    }

    /// The SQLite file path, or `None` on PostgreSQL.
    pub fn sqlite_file(&self) -> Option<&str> {
        matches!(self.cleanup, Cleanup::Dir(_)).then(|| sqlite_path(&self.url))
    }

    /// This database's URL with `sslmode=require` (libpq then connects over TLS or not at
    /// all), whatever parameters the server's URL already has.
    pub fn url_requiring_tls(&self) -> String {
        let mut url = url::Url::parse(&self.url).expect("a PostgreSQL URL");
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| k != "sslmode")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(kept)
            .append_pair("sslmode", "require");
        url.into()
    }

    /// Asserts that this PostgreSQL database has connections now and that every one uses
    /// TLS (from `pg_stat_ssl`).
    pub fn assert_every_connection_uses_tls(&self) {
        let (total, tls) = self.tls_connections().expect("a PostgreSQL database");
        assert!(
            total > 0 && tls == total,
            "{tls} of {total} connections use TLS"
        );
    }

    /// On PostgreSQL, the connections to this database now and how many of them use TLS
    /// (from `pg_stat_ssl`); `None` on SQLite.
    pub fn tls_connections(&self) -> Option<(i64, i64)> {
        #[derive(diesel::QueryableByName)]
        struct TlsCount {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            total: i64,
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            tls: i64,
        }
        let Cleanup::Postgres { admin_url, name } = &self.cleanup else {
            return None;
        };
        let mut admin = admin_connection(admin_url).expect("the PostgreSQL test server");
        let count: TlsCount = crate::with_conn!(&mut admin, |c| diesel::sql_query(
            "SELECT count(*) AS total, count(*) FILTER (WHERE s.ssl) AS tls \
             FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.datname = $1"
        )
        .bind::<diesel::sql_types::Text, _>(name)
        .get_result(c))
        .expect("pg_stat_ssl is readable");
        Some((count.total, count.tls))
    }
}

/// A migrated PostgreSQL database that test databases are copied from; dropped (on the
/// server too) when the last [`TestDatabase`] copied from it is.
struct Template {
    admin_url: String,
    name: String,
}

impl Template {
    /// The live template of `label`, or a new one `migrate` has just migrated. One lock
    /// serialises the creation, so the tests of a binary that start together share one
    /// template; each test binary makes its own, under a unique name, so binaries running at
    /// the same time never wait for, or copy from, a template another is still migrating.
    async fn for_label<F, Fut>(label: &str, migrate: F) -> Arc<Template>
    where
        F: FnOnce(String) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        static LIVE: tokio::sync::Mutex<Vec<(String, Weak<Template>)>> =
            tokio::sync::Mutex::const_new(Vec::new());
        let mut live = LIVE.lock().await;
        live.retain(|(_, template)| template.strong_count() > 0);
        if let Some(template) = live
            .iter()
            .find(|(l, _)| l == label)
            .and_then(|(_, template)| template.upgrade())
        {
            return template;
        }
        let admin_url = postgres_admin_url();
        let unique = uuid::Uuid::new_v4().simple().to_string();
        let name = format!("{label}_template_{unique}").replace('-', "_");
        admin_execute(&admin_url, &format!("CREATE DATABASE \"{name}\""));
        let template = Arc::new(Template { admin_url, name });
        migrate(database_url(&template.admin_url, &template.name)).await;
        // A copy fails while anyone is connected to its template: end any connection the
        // migration left open, and let none in from now on.
        admin_execute(
            &template.admin_url,
            &format!(
                "ALTER DATABASE \"{name}\" WITH ALLOW_CONNECTIONS false",
                name = template.name
            ),
        );
        admin_execute(
            &template.admin_url,
            &format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}'",
                template.name
            ),
        );
        live.push((label.to_owned(), Arc::downgrade(&template)));
        template
    }
}

impl Drop for Template {
    fn drop(&mut self) {
        drop_database(&self.admin_url, &self.name);
    }
}

/// Runs one statement on the test server's admin database, panicking (failing the test)
/// with the server's error.
fn admin_execute(admin_url: &str, statement: &str) {
    let mut admin = admin_connection(admin_url).unwrap_or_else(|e| {
        panic!("PostgreSQL tests need a server at {admin_url} (set TEST_POSTGRES_URL): {e}")
    });
    crate::with_conn!(&mut admin, |c| diesel::sql_query(statement).execute(c))
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
}

/// A connection to the test server's admin database.
fn admin_connection(admin_url: &str) -> Result<DbConn, String> {
    let url: crate::DatabaseUrl = admin_url.parse().map_err(|e| format!("{e}"))?;
    DbConn::establish(&url).map_err(|e| e.to_string())
}

fn drop_database(admin_url: &str, name: &str) {
    if let Ok(mut admin) = admin_connection(admin_url) {
        let _ = crate::with_conn!(&mut admin, |c| diesel::sql_query(format!(
            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
        ))
        .execute(c));
    }
}

/// The URL of database `name` on the server of `admin_url`.
fn database_url(admin_url: &str, name: &str) -> String {
    let mut url = url::Url::parse(admin_url).expect("TEST_POSTGRES_URL is a URL");
    url.set_path(name);
    url.into()
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Postgres { admin_url, name } => drop_database(admin_url, name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tls_url_replaces_any_sslmode_and_keeps_the_other_parameters() {
        let db = TestDatabase {
            url: "postgres://u@127.0.0.1/t_1?sslmode=disable&application_name=x".into(),
            cleanup: Cleanup::Dir(std::env::temp_dir().join("never-created-tls-url-test")),
            _template: None,
        };
        assert_eq!(
            db.url_requiring_tls(),
            "postgres://u@127.0.0.1/t_1?application_name=x&sslmode=require"
        );
    }

    #[test]
    fn a_test_database_url_keeps_the_servers_parameters() {
        assert_eq!(
            database_url(
                "postgres://u:p@127.0.0.1:5433/postgres?sslmode=require",
                "t_1"
            ),
            "postgres://u:p@127.0.0.1:5433/t_1?sslmode=require"
        );
    }
}
