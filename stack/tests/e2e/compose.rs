//! The compose topology, checked without a Docker engine: services, health checks, build
//! targets, scaling-friendliness, that every variable it sets is one a service reads, and
//! each defect a real run once showed (compose_stack.rs runs it for real).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use serde_norway::Value;

/// The workspace's root folder (the stack crate's parent).
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn compose() -> Value {
    let text = std::fs::read_to_string(repo().join("docker-compose.yml")).unwrap();
    serde_norway::from_str(&text).expect("docker-compose.yml is valid YAML")
}

fn service<'a>(compose: &'a Value, name: &str) -> &'a Value {
    compose["services"]
        .get(name)
        .unwrap_or_else(|| panic!("service {name} is missing"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .map(|s| {
            s.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Environment variables a service's configuration reads (from its clap definition).
fn variables_read(cmd: clap::Command) -> BTreeSet<String> {
    let mut vars: BTreeSet<String> = cmd
        .get_arguments()
        .filter_map(|a| a.get_env())
        .map(|e| e.to_string_lossy().into_owned())
        .collect();
    vars.insert("RUST_LOG".into()); // read by env_logger
    vars
}

fn environment(svc: &Value) -> BTreeSet<String> {
    svc["environment"]
        .as_mapping()
        .expect("environment is a mapping")
        .keys()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_compose_file_has_postgres_both_services_and_a_gateway() {
    let c = compose();
    let names: BTreeSet<&str> = c["services"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["secrets", "postgres", "auth", "posts", "gateway"])
    );
    // docker-compose 1.x (Debian's) refuses a top-level `name:`.
    assert!(
        c.get("name").is_none(),
        "top-level name: breaks docker-compose 1.x"
    );
}

#[test]
fn postgres_uses_the_official_image_a_named_volume_and_an_init_script_for_both_databases() {
    let c = compose();
    let pg = service(&c, "postgres");
    assert!(pg["image"].as_str().unwrap().starts_with("postgres:"));
    let volumes = strings(&pg["volumes"]);
    let named = volumes
        .iter()
        .find(|v| v.ends_with(":/var/lib/postgresql/data"))
        .expect("data on a volume");
    let volume_name = named.split(':').next().unwrap();
    assert!(
        c["volumes"].get(volume_name).is_some(),
        "{volume_name} is a named volume"
    );
    let init = volumes
        .iter()
        .find(|v| v.contains("/docker-entrypoint-initdb.d/"))
        .expect("an init script");
    let script = std::fs::read_to_string(repo().join(init.split(':').next().unwrap())).unwrap();
    for db in ["auth", "posts"] {
        assert!(
            script.contains(&format!("CREATE DATABASE {db} OWNER {db};")),
            "creates {db}, owned by its own role"
        );
        assert!(
            script.contains(&format!("REVOKE ALL ON DATABASE {db} FROM PUBLIC;")),
            "only {db}'s role connects to {db}"
        );
    }
}

#[test]
fn the_postgres_health_check_asks_over_tcp_so_the_init_server_does_not_count() {
    // Without -h, pg_isready asks on the Unix socket, which the image's temporary init server
    // answers: dependents then start against a server about to stop.
    let c = compose();
    let test = strings(&service(&c, "postgres")["healthcheck"]["test"]);
    assert_eq!(test[0], "CMD");
    assert_eq!(test[1], "pg_isready");
    let host = test.iter().position(|a| a == "-h").expect("pg_isready -h");
    assert!(
        !test[host + 1].starts_with('/'),
        "-h names a TCP host, not a socket directory"
    );
}

#[test]
fn every_long_running_service_restarts_and_outlives_its_shutdown_grace() {
    let c = compose();
    for name in ["postgres", "auth", "posts", "gateway"] {
        let restart = service(&c, name)["restart"].as_str().unwrap_or("no");
        assert!(
            ["always", "unless-stopped", "on-failure"].contains(&restart),
            "{name} has restart: {restart}"
        );
    }
    assert_eq!(service(&c, "secrets")["restart"], "no", "a one-shot");
    let seconds = |v: &Value| -> u64 {
        let s = v.as_str().expect("a duration like 25s");
        s.strip_suffix('s').unwrap().parse().unwrap()
    };
    for name in ["auth", "posts"] {
        let svc = service(&c, name);
        let grace: u64 = svc["environment"]["SHUTDOWN_GRACE_SECONDS"]
            .as_str()
            .map_or(30, |v| v.parse().unwrap());
        let stop = seconds(&svc["stop_grace_period"]);
        assert!(
            stop > grace,
            "{name}: stop_grace_period {stop}s must exceed SHUTDOWN_GRACE_SECONDS {grace}"
        );
    }
}

/// The role CONNECTION LIMITs the init script sets.
fn connection_limits() -> std::collections::BTreeMap<String, u64> {
    let script = std::fs::read_to_string(repo().join("deploy/postgres/init.sh")).unwrap();
    script
        .lines()
        .filter_map(|l| {
            let rest = l.trim().strip_prefix("CREATE ROLE ")?;
            let role = rest.split_whitespace().next()?.to_owned();
            let limit = rest
                .split("CONNECTION LIMIT ")
                .nth(1)?
                .trim_end_matches(';')
                .parse()
                .ok()?;
            Some((role, limit))
        })
        .collect()
}

#[test]
fn pools_are_bounded_per_replica_and_fit_postgres_at_the_documented_scale() {
    let c = compose();
    // PostgreSQL's default max_connections, less superuser_reserved_connections.
    let available = 100 - 3;
    let pool = |name: &str| -> u64 {
        service(&c, name)["environment"]["DATABASE_POOL_SIZE"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} bounds its pool (DATABASE_POOL_SIZE)"))
            .parse()
            .unwrap()
    };
    let (auth, posts) = (pool("auth"), pool("posts"));
    assert!(
        2 * auth + 3 * posts <= available,
        "2 auth x {auth} + 3 posts x {posts} connections exceed {available}"
    );
    let limits = connection_limits();
    assert_eq!(limits.keys().collect::<Vec<_>>(), ["auth", "posts"]);
    assert!(limits.values().sum::<u64>() <= available, "{limits:?}");
    assert!(limits["auth"] >= 2 * auth && limits["posts"] >= 3 * posts);
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let arithmetic = format!("2 × {auth} + 3 × {posts} = {}", 2 * auth + 3 * posts);
    assert!(
        readme.contains(&arithmetic),
        "README shows the pool arithmetic: {arithmetic}"
    );
}

#[test]
fn no_password_is_written_in_the_compose_file_and_secrets_reach_services_privately() {
    let c = compose();
    let text = std::fs::read_to_string(repo().join("docker-compose.yml")).unwrap();
    assert!(
        !text.contains("POSTGRES_PASSWORD:"),
        "superuser password in the file"
    );
    for name in ["auth", "posts"] {
        let svc = service(&c, name);
        let url = svc["environment"]["DATABASE_URL"].as_str().unwrap();
        let userinfo = url
            .strip_prefix("postgres://")
            .unwrap()
            .split('@')
            .next()
            .unwrap();
        assert_eq!(
            userinfo, name,
            "{name} connects as its own role, no password"
        );
        assert!(
            url.contains("passfile=/run/"),
            "{name}: password from a file"
        );
        // File secrets keep the host file's owner and mode: mounted directly, a 0600 key is
        // unreadable to uid 10001. Only the root one-shot reads them.
        assert!(
            svc.get("secrets").is_none(),
            "{name} mounts compose secrets directly"
        );
        assert_eq!(
            svc["depends_on"]["secrets"]["condition"],
            "service_completed_successfully"
        );
    }
    let init = service(&c, "secrets");
    assert_eq!(init["user"], "0:0");
    let install = std::fs::read_to_string(repo().join("deploy/secrets/install.sh")).unwrap();
    assert!(install.contains("chmod 0600") && install.contains("SERVICE_UID=10001"));
    let declared: BTreeSet<String> = c["secrets"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    let used: BTreeSet<String> = strings(&init["secrets"]).into_iter().collect();
    assert_eq!(
        declared, used,
        "every secret goes through the secrets service"
    );
    let create = std::fs::read_to_string(repo().join("deploy/secrets/create")).unwrap();
    assert!(create.contains("umask 077"));
    for secret in c["secrets"].as_mapping().unwrap().values() {
        let file = secret["file"].as_str().unwrap();
        let name = file.rsplit('/').next().unwrap();
        assert!(
            create.contains(name.trim_end_matches(".pem")),
            "create makes {file}"
        );
    }
}

#[test]
fn the_gateway_resolves_replicas_at_run_time_and_serves_docs_and_health() {
    let conf = std::fs::read_to_string(repo().join("deploy/gateway/compose.conf")).unwrap();
    let routes = std::fs::read_to_string(repo().join("deploy/gateway/routes.conf")).unwrap();
    // An `upstream` block is resolved once at start: scaled or recreated replicas are missed.
    assert!(conf.contains("resolver 127.0.0.11"), "Docker's DNS");
    let directives = |text: &str| -> Vec<String> {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.starts_with('#'))
            .map(str::to_owned)
            .collect()
    };
    assert!(
        !directives(&conf).iter().any(|l| l.starts_with("upstream ")),
        "no start-time upstream block"
    );
    for line in directives(&routes)
        .iter()
        .filter(|l| l.contains("proxy_pass"))
    {
        assert!(
            line.contains("proxy_pass http://$"),
            "proxy_pass through a variable: {line}"
        );
    }
    for location in [
        "location = /docs ",
        "location /docs/ ",
        "location = /openapi.json ",
        "location = /healthz ",
        "location = /readyz ",
    ] {
        assert!(routes.contains(location), "gateway lacks {location}");
    }
    assert!(routes.contains("proxy_next_upstream error timeout"));
}

#[test]
fn the_dockerfile_pins_the_toolchain_caches_dependencies_and_runs_as_uid_10001() {
    let dockerfile = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    let manifest = std::fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    let rust_version = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .unwrap()
        .trim_matches('"');
    assert!(
        dockerfile.contains(&format!("FROM rust:{rust_version}-slim-bookworm AS build")),
        "the builder is pinned to rust-version {rust_version}"
    );
    // A `# syntax=` line makes BuildKit pull a frontend image: nothing can be pulled.
    assert!(!dockerfile.to_lowercase().contains("# syntax="));
    assert!(
        dockerfile.contains("USER 10001"),
        "numeric USER (runAsNonRoot)"
    );
    assert!(!dockerfile.contains("USER app"));
    let lock = dockerfile
        .find("COPY Cargo.toml Cargo.lock")
        .expect("manifests first");
    let deps = dockerfile[lock..].find("cargo build").unwrap() + lock;
    let sources = dockerfile.find("COPY . .").unwrap();
    assert!(
        lock < deps && deps < sources,
        "dependencies are built before the sources are copied"
    );
}

#[test]
fn the_services_are_built_from_the_dockerfile_and_checked_by_their_healthcheck_subcommand() {
    let c = compose();
    let dockerfile = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    for (name, binary) in [("auth", "auth-service"), ("posts", "posts-service")] {
        let svc = service(&c, name);
        let target = svc["build"]["target"].as_str().unwrap();
        assert!(
            dockerfile.contains(&format!(" AS {target}\n")),
            "Dockerfile has stage {target}"
        );
        assert_eq!(
            strings(&svc["healthcheck"]["test"]),
            ["CMD", binary, "healthcheck"]
        );
        // Scalable: no fixed container name, no host port.
        assert!(
            svc.get("container_name").is_none(),
            "{name} pins a container name"
        );
        assert!(svc.get("ports").is_none(), "{name} pins a host port");
        assert_eq!(
            svc["depends_on"]["postgres"]["condition"],
            "service_healthy"
        );
    }
    assert_eq!(
        service(&c, "posts")["depends_on"]["auth"]["condition"],
        "service_healthy"
    );
    let gateway = service(&c, "gateway");
    assert!(gateway["image"].as_str().unwrap().starts_with("nginx"));
    assert_eq!(strings(&gateway["ports"]), ["127.0.0.1:8000:8000"]);
    for dep in ["auth", "posts"] {
        assert_eq!(gateway["depends_on"][dep]["condition"], "service_healthy");
    }
    for mount in strings(&gateway["volumes"]) {
        let file = mount.split(':').next().unwrap();
        assert!(
            repo().join(file).exists(),
            "gateway mounts {file}, which exists"
        );
    }
}

#[test]
fn every_variable_the_compose_file_sets_is_one_the_service_reads() {
    let c = compose();
    for (name, read) in [
        ("auth", variables_read(auth_service::config::Cli::command())),
        (
            "posts",
            variables_read(posts_service::config::Cli::command()),
        ),
    ] {
        let set = environment(service(&c, name));
        let unknown: Vec<_> = set.difference(&read).collect();
        assert!(
            unknown.is_empty(),
            "{name} sets variables it never reads: {unknown:?}"
        );
        for needed in ["BIND_ADDR", "DATABASE_URL"] {
            assert!(set.contains(needed), "{name} sets {needed}");
        }
    }
}

#[test]
fn the_services_find_each_other_and_the_signing_key_where_compose_puts_them() {
    let c = compose();
    let auth = service(&c, "auth");
    let posts = service(&c, "posts");
    let auth_port = auth["environment"]["BIND_ADDR"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap();
    assert_eq!(
        posts["environment"]["JWT_JWKS_URL"],
        format!("http://auth:{auth_port}/.well-known/jwks.json").as_str()
    );
    for svc in [auth, posts] {
        assert!(svc["environment"]["DATABASE_URL"]
            .as_str()
            .unwrap()
            .contains("@postgres:5432/"));
    }
    assert!(c["secrets"].get("auth_signing_key").is_some());
    // deploy/secrets/install.sh copies `auth_*` secrets into the auth volume, under their name.
    assert!(strings(&auth["volumes"]).contains(&"auth-secrets:/run/auth-secrets:ro".to_owned()));
    assert_eq!(
        auth["environment"]["JWT_PRIVATE_KEY_FILE"],
        "/run/auth-secrets/auth_signing_key"
    );
    // The gateway's upstreams are the services' ports.
    let gateway = std::fs::read_to_string(repo().join("deploy/gateway/compose.conf")).unwrap();
    let posts_port = posts["environment"]["BIND_ADDR"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap();
    assert!(gateway.contains(&format!("set $auth_upstream auth:{auth_port};")));
    assert!(gateway.contains(&format!("set $posts_upstream posts:{posts_port};")));
}

#[test]
fn the_readme_documents_every_environment_variable() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let mut vars = variables_read(auth_service::config::Cli::command());
    vars.extend(variables_read(posts_service::config::Cli::command()));
    vars.extend(variables_read(stack::StackConfig::command()));
    for var in vars {
        assert!(
            readme.contains(&format!("`{var}`")),
            "README.md does not document {var}"
        );
    }
}
