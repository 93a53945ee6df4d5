//! `stack import-course` from a course-shaped PostgreSQL database (the course's last Alembic
//! revision, `c47ecbf163d4`, as SQL written here) into fresh SQLite and PostgreSQL service
//! databases: users log in with their old passwords through the running stack, posts,
//! drafts and vote counts keep their ids, refused rows are reported by id, a second run
//! changes nothing, and a run stopped half-way completes when run again. PostgreSQL only:
//! skipped without `TEST_POSTGRES_URL`.

use std::process::{Command, Output};

use diesel::connection::SimpleConnection;
use diesel::{Connection, RunQueryDsl};
use serde_json::Value;
use service_kit::testing::TestDatabase;
use service_kit::Backend;
use stack::TestStack;

/// The course's schema at Alembic head `c47ecbf163d4`, as its revisions create it.
const COURSE_HEAD: &str = r#"
CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY);
INSERT INTO alembic_version VALUES ('c47ecbf163d4');
CREATE TABLE posts (id SERIAL NOT NULL PRIMARY KEY, title VARCHAR NOT NULL);
ALTER TABLE posts ADD COLUMN content VARCHAR NOT NULL;
CREATE TABLE users (
    id SERIAL NOT NULL,
    email VARCHAR NOT NULL,
    password VARCHAR NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    PRIMARY KEY (id),
    UNIQUE (email)
);
ALTER TABLE posts ADD COLUMN owner_id INTEGER NOT NULL;
ALTER TABLE posts ADD CONSTRAINT post_users_fk FOREIGN KEY (owner_id) REFERENCES users (id) ON DELETE CASCADE;
ALTER TABLE posts ADD COLUMN published BOOLEAN DEFAULT 'TRUE' NOT NULL;
ALTER TABLE posts ADD COLUMN created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL;
CREATE TABLE votes (
    user_id INTEGER NOT NULL,
    post_id INTEGER NOT NULL,
    FOREIGN KEY (post_id) REFERENCES posts (id) ON DELETE CASCADE,
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, post_id)
);
ALTER TABLE users ADD COLUMN phone_number VARCHAR;
"#;

/// Extra users beside the three that log in, so the run takes several batches.
const CROWD: i64 = 20;

/// Fills the course database: alice (3), bob (5), carol (9) with passlib-style hashes
/// (`$2b$12$`), ids with gaps as the course's sequences leave them; one user whose email this
/// project refuses (id 4) and one whose hash is not bcrypt (id 6); posts (a draft of
/// alice's, a 301-character title refused, a post of the refused user), votes.
fn fill(url: &str) {
    let mut c = diesel::PgConnection::establish(url).unwrap();
    c.batch_execute(COURSE_HEAD).unwrap();
    let hash = |password: &str| {
        bcrypt::hash_with_result(password, 12)
            .unwrap()
            .format_for_version(bcrypt::Version::TwoB)
    };
    let (a, b, k) = (
        hash("alice-password"),
        hash("bob-password"),
        hash("carol-password"),
    );
    assert!(a.starts_with("$2b$12$"));
    let mut sql = format!(
        "INSERT INTO users (id, email, password, created_at, phone_number) VALUES \
         (3, 'alice@example.com', '{a}', '2021-08-01T10:00:00.123456+00', '555'), \
         (4, 'not-an-email', '{a}', '2021-08-02T10:00:00+00', NULL), \
         (5, 'Bob@example.com', '{b}', '2021-08-03T10:00:00+00', NULL), \
         (6, 'plain@example.com', 'password123', '2021-08-04T10:00:00+00', NULL), \
         (9, 'carol@example.com', '{k}', '2021-08-05T10:00:00+00', NULL);"
    );
    for i in 0..CROWD {
        sql.push_str(&format!(
            "INSERT INTO users (id, email, password) VALUES ({}, 'crowd{i}@example.com', '{a}');",
            100 + i
        ));
    }
    let long = "x".repeat(301);
    sql.push_str(&format!(
        "INSERT INTO posts (id, title, content, owner_id, published, created_at) VALUES \
         (10, 'hello', 'first', 3, TRUE, '2021-09-01T00:00:00+00'), \
         (11, 'alice draft', 'secret', 3, FALSE, '2021-09-02T00:00:00+00'), \
         (12, 'bob says', 'hi', 5, TRUE, '2021-09-03T00:00:00+00'), \
         (14, '{long}', 'too long a title', 5, TRUE, '2021-09-04T00:00:00+00'), \
         (15, 'from nowhere', 'x', 4, TRUE, '2021-09-05T00:00:00+00'); \
         INSERT INTO votes (user_id, post_id) VALUES (3, 12), (5, 12), (9, 12), (5, 10), (4, 10), (9, 14);"
    ));
    c.batch_execute(&sql).unwrap();
}

fn import(course: &str, auth: &str, posts: &str, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stack"))
        .args([
            "import-course",
            "--from",
            course,
            "--auth-database-url",
            auth,
        ])
        .args(["--posts-database-url", posts])
        .args(extra)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

/// A `SECRET_KEY` as a course deployment would have set it (not the tutorial's).
const COURSE_SECRET: &str = "5f1c0d7e9a2b4c6d8e0f1a3b5c7d9e1f3a5b7c9d1e3f5a7b9c1d3e5f7a9b1c3d";

/// The statuses of a course token for `user_id` on posts (`GET /posts/`) and auth
/// (`GET /users/me`).
async fn course_statuses(stack: &TestStack, user_id: i64) -> (u16, u16) {
    let exp = chrono::Utc::now().timestamp() + 600;
    let token = shared_claims::testing::encode_hs256_for_testing(
        &serde_json::json!({ "user_id": user_id, "exp": exp }),
        COURSE_SECRET.as_bytes(),
    );
    let posts = stack.posts().get("/posts/", Some(&token)).await.status();
    let auth = stack.auth().get("/users/me", Some(&token)).await.status();
    (posts.as_u16(), auth.as_u16())
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[actix_web::test]
async fn a_course_database_imports_into_both_backends_idempotently_and_resumably() {
    let Some(course) = TestDatabase::postgres("course") else {
        eprintln!("skipped: TEST_POSTGRES_URL is not set");
        return;
    };
    fill(&course.url);
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let auth = TestDatabase::create(backend, "import_auth");
        let posts = TestDatabase::create(backend, "import_posts");
        let run = |extra: &[&str]| import(&course.url, &auth.url, &posts.url, extra);

        // `stop` (the default): every refused row reported by table and id, nothing written.
        let out = run(&[]);
        let text = stdout(&out);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for line in [
            "refused users 4: email \"not-an-email\"",
            "refused users 6: password is not a bcrypt hash",
            "refused posts 14: title:",
            "refused posts 15: owner 4 is not imported",
            "refused votes 10/4: user 4 is not imported",
            "refused votes 14/9: post 14 is not imported",
        ] {
            assert!(text.contains(line), "{line:?} in\n{text}");
        }
        assert!(text.contains("nothing written"), "{text}");
        // A dry run says the same and writes nothing either.
        let dry = run(&["--dry-run", "--on-invalid", "skip"]);
        assert_eq!(dry.status.code(), Some(0));
        assert!(
            stdout(&dry).contains("users: 25 read, 0 inserted"),
            "{}",
            stdout(&dry)
        );

        // Stopped after two batches of 4 (as a kill between transactions leaves it), then run
        // again: complete.
        let stopped = run(&[
            "--on-invalid",
            "skip",
            "--batch-size",
            "4",
            "--stop-after-batches",
            "2",
        ]);
        assert_eq!(
            stopped.status.code(),
            Some(3),
            "{}",
            String::from_utf8_lossy(&stopped.stderr)
        );
        let out = run(&["--on-invalid", "skip", "--batch-size", "4"]);
        let text = stdout(&out);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("users: 25 read, 15 inserted, 8 unchanged, 2 refused"),
            "{text}"
        );
        assert!(
            text.contains("posts: 5 read, 3 inserted, 0 unchanged, 2 refused"),
            "{text}"
        );
        assert!(
            text.contains("votes: 6 read, 4 inserted, 0 unchanged, 2 refused"),
            "{text}"
        );
        // A second complete run changes nothing.
        let again = stdout(&run(&["--on-invalid", "skip"]));
        for line in [
            "users: 25 read, 0 inserted, 23 unchanged, 2 refused",
            "posts: 5 read, 0 inserted, 3 unchanged, 2 refused",
            "votes: 6 read, 0 inserted, 4 unchanged, 2 refused",
        ] {
            assert!(again.contains(line), "{line:?} in\n{again}");
        }

        assert!(
            again.contains("course tokens name the users below id 120"),
            "{again}"
        );

        // The running stack on those databases, accepting the course app's tokens: old
        // passwords work, ids are kept.
        let until = chrono::Utc::now() + chrono::TimeDelta::hours(1);
        let stack = TestStack::builder()
            .database_urls(auth.url.clone(), posts.url.clone())
            .configure(|c| {
                let secret: shared_claims::Secret = COURSE_SECRET.parse().unwrap();
                c.auth.course.course_token_secret = Some(secret.clone());
                c.auth.course.course_token_until = Some(until);
                c.posts.tokens.course.course_token_secret = Some(secret);
                c.posts.tokens.course.course_token_until = Some(until);
            })
            .start()
            .await;
        let alice = stack.log_in("alice@example.com", "alice-password").await;
        let bob = stack.log_in("Bob@example.com", "bob-password").await;
        stack.log_in("carol@example.com", "carol-password").await;
        stack.log_in("crowd7@example.com", "alice-password").await;
        let me: Value = stack
            .auth()
            .get("/users/me", Some(&alice))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(me["id"], 3);
        assert_eq!(me["created_at"], "2021-08-01T10:00:00.123456+00:00");
        let one: Value = stack
            .posts_get("/posts/12", &alice)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(one["votes"], 3);
        assert_eq!(one["Post"]["owner"]["email"], "Bob@example.com");
        let hello: Value = stack
            .posts_get("/posts/10", &bob)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            (hello["Post"]["title"].clone(), hello["votes"].clone()),
            ("hello".into(), 1.into())
        );
        // The draft is still private: its owner sees it, others get 404.
        assert_eq!(stack.posts_get("/posts/11", &alice).await.status(), 200);
        assert_eq!(stack.posts_get("/posts/11", &bob).await.status(), 404);
        assert_eq!(stack.posts_get("/posts/14", &alice).await.status(), 404);
        // New rows get ids past the course app's, plus the margin for its last sign-ups.
        let dave = stack.sign_up("dave@example.com", "dave-password").await;
        assert!(dave > 100_119, "{dave}");
        let post = stack
            .create_post(&alice, "new", "after the import", true)
            .await;
        assert!(post["id"].as_i64().unwrap() > 100_015, "{post}");

        // Course tokens name imported users only: alice's works on both services; those of a
        // user the import refused (4, 6), of an id the course app never gave (119 is, 500 is
        // not), and of dave (this project's own user) do not.
        assert_eq!(course_statuses(&stack, 3).await, (200, 200));
        assert_eq!(course_statuses(&stack, 119).await, (200, 200));
        for id in [4, 6, 500, dave] {
            assert_eq!(course_statuses(&stack, id).await, (401, 401), "user {id}");
        }
        stack.stop().await;
    }
}

#[test]
fn an_older_course_revision_without_votes_or_phone_number_is_read_too() {
    let Some(course) = TestDatabase::postgres("course_old") else {
        return;
    };
    // Revision af786b740296: posts have an owner but no published / created_at; no votes.
    let mut c = diesel::PgConnection::establish(&course.url).unwrap();
    let hash = bcrypt::hash_with_result("old-password", 4)
        .unwrap()
        .format_for_version(bcrypt::Version::TwoB);
    c.batch_execute(&format!(
        "CREATE TABLE posts (id SERIAL PRIMARY KEY, title VARCHAR NOT NULL, content VARCHAR NOT NULL);
         CREATE TABLE users (id SERIAL PRIMARY KEY, email VARCHAR NOT NULL UNIQUE, password VARCHAR NOT NULL,
                             created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL);
         ALTER TABLE posts ADD COLUMN owner_id INTEGER NOT NULL REFERENCES users (id);
         INSERT INTO users (id, email, password) VALUES (1, 'old@example.com', '{hash}');
         INSERT INTO posts (id, title, content, owner_id) VALUES (1, 't', 'c', 1);"
    ))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sqlite = |f: &str| format!("sqlite://{}", dir.path().join(f).display());
    let out = import(&course.url, &sqlite("auth.db"), &sqlite("posts.db"), &[]);
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("users: 1 read, 1 inserted"), "{text}");
    assert!(text.contains("posts: 1 read, 1 inserted"), "{text}");
    assert!(text.contains("votes: 0 read"), "{text}");
}

#[test]
fn an_import_killed_half_way_completes_when_run_again() {
    use std::io::BufRead;
    let Some(course) = TestDatabase::postgres("course_kill") else {
        return;
    };
    fill(&course.url);
    let (auth, posts) = (
        TestDatabase::create(Backend::Sqlite, "kill_auth"),
        TestDatabase::create(Backend::Sqlite, "kill_posts"),
    );
    // One row per transaction; killed (SIGKILL) once five users are in (the run waits there
    // to be killed: reading its progress alone, the test could be lines behind a run that
    // has already finished).
    let mut child = Command::new(env!("CARGO_BIN_EXE_stack"))
        .args([
            "import-course",
            "--from",
            &course.url,
            "--auth-database-url",
            &auth.url,
        ])
        .args([
            "--posts-database-url",
            &posts.url,
            "--on-invalid",
            "skip",
            "--batch-size",
            "1",
            "--pause-after-batches",
            "5",
        ])
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    for line in stderr.lines() {
        let line = line.unwrap();
        let killed = line == "paused";
        seen.push(line);
        if killed {
            child.kill().unwrap();
            break;
        }
    }
    assert!(!child.wait().unwrap().success(), "killed: {seen:?}");
    let out = import(
        &course.url,
        &auth.url,
        &posts.url,
        &["--on-invalid", "skip"],
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let users = text.lines().find(|l| l.starts_with("users:")).unwrap();
    let counted: Vec<usize> = users
        .split(", ")
        .filter_map(|part| {
            part.split(' ')
                .find_map(|w| w.trim_start_matches("users:").trim().parse().ok())
        })
        .collect();
    // 25 read, then inserted + unchanged = the 23 valid users, some of them written before the kill.
    assert_eq!(counted[0], 25, "{text}");
    assert_eq!(counted[1] + counted[2], 23, "{text}");
    assert!(counted[2] >= 5, "the killed run's rows stayed: {text}");
    assert!(
        text.contains("posts: 5 read, 3 inserted, 0 unchanged"),
        "{text}"
    );
    let again = stdout(&import(
        &course.url,
        &auth.url,
        &posts.url,
        &["--on-invalid", "skip"],
    ));
    assert!(
        again.contains("users: 25 read, 0 inserted, 23 unchanged"),
        "{again}"
    );
    assert!(
        again.contains("votes: 6 read, 0 inserted, 4 unchanged"),
        "{again}"
    );
}

#[test]
fn rows_whose_ids_the_targets_give_to_others_are_refused_before_anything_is_written() {
    let Some(course) = TestDatabase::postgres("course_conflict") else {
        return;
    };
    fill(&course.url);
    let (auth, posts) = (
        TestDatabase::create(Backend::Sqlite, "conflict_auth"),
        TestDatabase::create(Backend::Sqlite, "conflict_posts"),
    );
    let first = import(
        &course.url,
        &auth.url,
        &posts.url,
        &["--on-invalid", "skip"],
    );
    assert_eq!(first.status.code(), Some(0), "{}", stdout(&first));

    // Meanwhile, in the targets, an account took id 200 and a post took id 13; in the course
    // app, eve signed up as user 200 and alice wrote post 13, which bob voted for.
    let mut target =
        diesel::SqliteConnection::establish(service_kit::db::sqlite_path(&auth.url)).unwrap();
    target
        .batch_execute(
            "INSERT INTO users (id, email, email_key, password_hash, created_at) \
             VALUES (200, 'zed@example.com', 'zed@example.com', 'x', '2026-01-01 00:00:00')",
        )
        .unwrap();
    let mut target =
        diesel::SqliteConnection::establish(service_kit::db::sqlite_path(&posts.url)).unwrap();
    target
        .batch_execute(
            "INSERT INTO posts (id, title, title_search, content, published, created_at, owner_id) \
             VALUES (13, 'not hers', 'not hers', 'x', 1, '2026-01-01 00:00:00', 5)",
        )
        .unwrap();
    let mut c = diesel::PgConnection::establish(&course.url).unwrap();
    let hash = bcrypt::hash_with_result("eve-password", 4)
        .unwrap()
        .format_for_version(bcrypt::Version::TwoB);
    c.batch_execute(&format!(
        "INSERT INTO users (id, email, password) VALUES (200, 'eve@example.com', '{hash}');
         INSERT INTO posts (id, title, content, owner_id) VALUES (13, 'late post', 'x', 3), (16, 'eve', 'x', 200);
         INSERT INTO votes (user_id, post_id) VALUES (5, 13), (5, 16);"
    ))
    .unwrap();

    // A dry run and `stop` both report them (nothing written); `skip` writes the rest.
    for extra in [&["--dry-run"][..], &[]] {
        let out = import(&course.url, &auth.url, &posts.url, extra);
        let text = stdout(&out);
        for line in [
            "refused users 200: id already taken here by another account",
            "refused posts 13: id already taken here by another post (user 5's)",
            "refused posts 16: owner 200 is not imported",
            "refused votes 13/5: post 13 is not imported",
        ] {
            assert!(text.contains(line), "{line:?} in\n{text}");
        }
        assert!(text.contains("nothing written"), "{text}");
    }
    let out = import(
        &course.url,
        &auth.url,
        &posts.url,
        &["--on-invalid", "skip"],
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("posts: 7 read, 0 inserted, 3 unchanged, 4 refused"),
        "{text}"
    );
    // Zed (not a course user, below the course's next id 201) gets no course token accepted:
    // recorded as a refusal.
    assert!(
        text.contains("course tokens name the users below id 201"),
        "{text}"
    );
    let mut target =
        diesel::SqliteConnection::establish(service_kit::db::sqlite_path(&auth.url)).unwrap();
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let row: Row = diesel::sql_query(
        "SELECT COUNT(*) AS n FROM course_token_refusals WHERE user_id IN (4, 6, 200)",
    )
    .get_result(&mut target)
    .unwrap();
    assert_eq!(row.n, 3);
    let post: Row = diesel::sql_query("SELECT owner_id AS n FROM posts WHERE id = 13")
        .get_result(
            &mut diesel::SqliteConnection::establish(service_kit::db::sqlite_path(&posts.url))
                .unwrap(),
        )
        .unwrap();
    assert_eq!(post.n, 5, "the target's post 13 is untouched");
}
