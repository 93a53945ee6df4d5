//! The compose topology, checked without a Docker engine: services, health checks, build
//! targets, scaling-friendliness, and that every variable it sets is one a service reads.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use serde_norway::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
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
        BTreeSet::from(["postgres", "auth", "posts", "gateway"])
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
    assert!(strings(&pg["healthcheck"]["test"])
        .join(" ")
        .contains("pg_isready"));
    let init = volumes
        .iter()
        .find(|v| v.contains("/docker-entrypoint-initdb.d/"))
        .expect("an init script");
    let script = std::fs::read_to_string(repo().join(init.split(':').next().unwrap())).unwrap();
    for db in ["auth", "posts"] {
        assert!(
            script.contains(&format!("CREATE DATABASE {db};")),
            "creates {db}"
        );
    }
}

#[test]
fn the_services_are_built_from_the_dockerfile_and_checked_by_their_healthcheck_subcommand() {
    let c = compose();
    let dockerfile = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    assert!(
        dockerfile.contains("USER app"),
        "runtime runs as a non-root user"
    );
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
    assert_eq!(strings(&gateway["ports"]), ["8000:8000"]);
    for dep in ["auth", "posts"] {
        assert_eq!(gateway["depends_on"][dep]["condition"], "service_healthy");
    }
    for mount in strings(&gateway["volumes"]) {
        let file = mount.split(':').next().unwrap();
        assert!(
            repo().join(file).is_file(),
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
    assert_eq!(strings(&auth["secrets"]), ["auth_signing_key"]);
    assert!(c["secrets"].get("auth_signing_key").is_some());
    assert_eq!(
        auth["environment"]["JWT_PRIVATE_KEY_FILE"],
        "/run/secrets/auth_signing_key"
    );
    // The gateway's upstreams are the services' ports.
    let gateway = std::fs::read_to_string(repo().join("deploy/gateway/compose.conf")).unwrap();
    let posts_port = posts["environment"]["BIND_ADDR"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap();
    assert!(gateway.contains(&format!("server auth:{auth_port}")));
    assert!(gateway.contains(&format!("server posts:{posts_port}")));
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
