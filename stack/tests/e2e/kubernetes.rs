//! The Kubernetes deployment (deploy/k8s) and the operator's kit (deploy/monitoring),
//! checked offline against the services themselves: each overlay as `kubectl kustomize`
//! renders it, read as the cluster would read it, beside the binaries' `--help`, the
//! Dockerfile, the gateway's routes and the database roles' limits; and every metric the
//! alert rules and the dashboard name, beside a real `/metrics` scrape of both services.
//! `.ci/run` validates the same renderings against the Kubernetes schemas and runs promtool.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_norway::Value;
use stack::TestStack;
use test_support::scrape_metrics;

use crate::processes::{tool_available, workspace_binary};

/// The workspace's root folder (the stack crate's parent).
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn yaml(path: &str) -> Value {
    serde_norway::from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// kubectl on the PATH, when there is one; in CI a missing kubectl fails (tool_available).
fn kubectl() -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .map(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("kubectl"))
                .find(|p| p.is_file())
        })
        .unwrap_or_default();
    // Not found: a name that is no file, so that tool_available says it is missing.
    let path = found.unwrap_or_else(|| PathBuf::from("kubectl on the PATH"));
    tool_available(path.to_str().unwrap(), "kubectl (for `kubectl kustomize`)").then_some(path)
}

/// The objects `kubectl kustomize dir` renders.
fn render(kubectl: &Path, dir: &Path) -> Vec<Value> {
    let out = Command::new(kubectl)
        .arg("kustomize")
        .arg(dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "kubectl kustomize {}: {stderr}",
        dir.display()
    );
    let text = String::from_utf8(out.stdout).unwrap();
    serde_norway::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

/// Every rendering a user can apply: the two overlays, and production with the Prometheus
/// Operator component (through a kustomization in a temporary folder, which kustomize
/// accepts only with relative paths).
fn renderings(kubectl: &Path) -> Vec<(&'static str, Vec<Value>)> {
    let k8s = repo().join("deploy/k8s").canonicalize().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().canonicalize().unwrap();
    let up = "../".repeat(tmp.components().count() - 1);
    let relative = |p: &str| format!("{up}{}", k8s.join(p).strip_prefix("/").unwrap().display());
    std::fs::write(
        tmp.join("kustomization.yaml"),
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n\
             resources: [{}]\ncomponents: [{}]\n",
            relative("overlays/production"),
            relative("components/prometheus-operator"),
        ),
    )
    .unwrap();
    vec![
        ("dev", render(kubectl, &k8s.join("overlays/dev"))),
        (
            "production",
            render(kubectl, &k8s.join("overlays/production")),
        ),
        ("production + prometheus-operator", render(kubectl, &tmp)),
    ]
}

fn of_kind<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

fn named<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    of_kind(objects, kind)
        .into_iter()
        .find(|o| o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v:?}"))
}

fn seq(v: &Value) -> &[Value] {
    v.as_sequence().map(Vec::as_slice).unwrap_or_default()
}

/// A container's environment as the pod sees it: its ConfigMaps' data (`envFrom`) and
/// its `env` (values, or the Secret `name/key` they come from).
fn environment(objects: &[Value], container: &Value) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for from in seq(&container["envFrom"]) {
        let config = named(objects, "ConfigMap", str_of(&from["configMapRef"]["name"]));
        for (k, v) in config["data"].as_mapping().unwrap() {
            env.insert(str_of(k).to_owned(), str_of(v).to_owned());
        }
    }
    for var in seq(&container["env"]) {
        let value = match var["valueFrom"]["secretKeyRef"].as_mapping() {
            Some(r) => format!("secret {}/{}", str_of(&r["name"]), str_of(&r["key"])),
            None => str_of(&var["value"]).to_owned(),
        };
        env.insert(str_of(&var["name"]).to_owned(), value);
    }
    env
}

/// The variables a service binary reads, from its `--help` (`[env: NAME`), and RUST_LOG
/// (read by env_logger, not an option).
fn variables_in_help(binary: &str) -> BTreeSet<String> {
    let out = Command::new(workspace_binary(binary))
        .arg("--help")
        .env_clear()
        .output()
        .unwrap();
    assert!(out.status.success(), "{binary} --help");
    let help = String::from_utf8(out.stdout).unwrap();
    let mut vars: BTreeSet<String> = help
        .split("[env: ")
        .skip(1)
        .map(|rest| rest.split(['=', ']']).next().unwrap().to_owned())
        .collect();
    assert!(
        vars.contains("SHUTDOWN_GRACE_SECONDS"),
        "{binary} --help: {help}"
    );
    vars.insert("RUST_LOG".into());
    vars
}

/// The default of `NAME` in a binary's `--help` (`[env: NAME=] [default: VALUE]`).
fn default_in_help(binary: &str, name: &str) -> String {
    let out = Command::new(workspace_binary(binary))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    let after = help.split(&format!("[env: {name}")).nth(1).unwrap();
    let default = after.split("[default: ").nth(1).unwrap();
    default.split(']').next().unwrap().to_owned()
}

/// The service Deployments: their name is their binary's, less `-service`.
const SERVICES: [(&str, &str); 2] = [("auth", "auth-service"), ("posts", "posts-service")];

fn pod_spec(deployment: &Value) -> &Value {
    &deployment["spec"]["template"]["spec"]
}

fn container(deployment: &Value) -> &Value {
    let containers = seq(&pod_spec(deployment)["containers"]);
    assert_eq!(containers.len(), 1, "one container");
    &containers[0]
}

/// The number of the container port called `name`.
fn port_named(container: &Value, name: &str) -> u64 {
    seq(&container["ports"])
        .iter()
        .find(|p| p["name"] == name)
        .and_then(|p| p["containerPort"].as_u64())
        .unwrap_or_else(|| panic!("no port {name}"))
}

/// Whether the label map `wanted` (a Service's selector, a `matchLabels`) selects a pod
/// with `labels`.
fn selects(wanted: &Value, labels: &Value) -> bool {
    let wanted = wanted.as_mapping();
    wanted.is_some_and(|m| !m.is_empty() && m.iter().all(|(k, v)| labels.get(k) == Some(v)))
}

fn pod_labels(deployment: &Value) -> &Value {
    &deployment["spec"]["template"]["metadata"]["labels"]
}

#[test]
fn every_setting_is_one_the_service_reads_and_the_ports_and_urls_agree() {
    let Some(kubectl) = kubectl() else { return };
    for (name, objects) in renderings(&kubectl) {
        for (service, binary) in SERVICES {
            let deployment = named(&objects, "Deployment", service);
            let env = environment(&objects, container(deployment));
            let known = variables_in_help(binary);
            for var in env.keys() {
                assert!(
                    known.contains(var),
                    "{name}: {service} sets {var}, not in `{binary} --help`"
                );
            }
            // It listens on every address of the pod, on its `http` port, which its
            // Service exposes under the same number.
            let bind = &env["BIND_ADDR"];
            let port: u64 = bind
                .strip_prefix("0.0.0.0:")
                .expect("0.0.0.0")
                .parse()
                .unwrap();
            assert_eq!(
                port_named(container(deployment), "http"),
                port,
                "{name}: {service}"
            );
            let svc = named(&objects, "Service", service);
            assert!(
                selects(&svc["spec"]["selector"], pod_labels(deployment)),
                "{name}: Service {service}"
            );
            let svc_port = &seq(&svc["spec"]["ports"])[0];
            assert_eq!(
                svc_port["port"].as_u64(),
                Some(port),
                "{name}: Service {service}"
            );
            assert_eq!(svc_port["targetPort"], "http", "{name}: Service {service}");
            assert!(
                env.contains_key("DATABASE_URL"),
                "{name}: {service} has a database"
            );
            assert!(
                env["DATABASE_URL"].starts_with("secret "),
                "{name}: DATABASE_URL from a Secret"
            );
        }
        // posts reaches auth's JWKS at the auth Service's name and port.
        let posts = environment(&objects, container(named(&objects, "Deployment", "posts")));
        let auth_port =
            seq(&named(&objects, "Service", "auth")["spec"]["ports"])[0]["port"].as_u64();
        assert_eq!(
            posts["JWT_JWKS_URL"],
            format!("http://auth:{}/.well-known/jwks.json", auth_port.unwrap()),
            "{name}"
        );
    }
}

/// The seconds of a container's `preStop: exec: sleep N` (0 without one).
fn pre_stop_seconds(container: &Value) -> u64 {
    let command = seq(&container["lifecycle"]["preStop"]["exec"]["command"]);
    match command {
        [] => 0,
        [sleep, n] if sleep == "sleep" => str_of(n).parse().unwrap(),
        other => panic!("preStop is not a sleep: {other:?}"),
    }
}

/// The Dockerfile's runtime user (`USER 10001:10001`): the uid the images run as.
fn dockerfile_uid() -> u64 {
    let dockerfile = read("Dockerfile");
    let user = dockerfile
        .lines()
        .filter_map(|l| l.strip_prefix("USER "))
        .next_back()
        .expect("a USER line");
    user.split(':').next().unwrap().parse().unwrap()
}

#[test]
fn every_deployment_has_probes_resources_a_locked_down_context_a_budget_and_a_grace_period() {
    let Some(kubectl) = kubectl() else { return };
    for (name, objects) in renderings(&kubectl) {
        let deployments = of_kind(&objects, "Deployment");
        assert!(deployments.len() >= 3, "{name}: auth, posts, docs");
        for deployment in deployments {
            let what = format!(
                "{name}: Deployment {}",
                str_of(&deployment["metadata"]["name"])
            );
            let pod = pod_spec(deployment);
            let c = container(deployment);
            for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
                assert!(c[probe]["httpGet"]["path"].is_string(), "{what}: {probe}");
                assert_eq!(c[probe]["httpGet"]["port"], "http", "{what}: {probe}");
            }
            for kind in ["requests", "limits"] {
                for resource in ["cpu", "memory"] {
                    assert!(
                        !c["resources"][kind][resource].is_null(),
                        "{what}: {kind}.{resource}"
                    );
                }
            }
            let ctx = &pod["securityContext"];
            assert_eq!(ctx["runAsNonRoot"], true, "{what}");
            assert!(
                ctx["runAsUser"].as_u64().is_some_and(|u| u > 0),
                "{what}: numeric non-root uid"
            );
            assert_eq!(ctx["seccompProfile"]["type"], "RuntimeDefault", "{what}");
            let ctx = &c["securityContext"];
            assert_eq!(ctx["allowPrivilegeEscalation"], false, "{what}");
            assert_eq!(ctx["readOnlyRootFilesystem"], true, "{what}");
            assert_eq!(
                seq(&ctx["capabilities"]["drop"]),
                [Value::from("ALL")],
                "{what}"
            );
            assert!(
                ctx["capabilities"]["add"].is_null(),
                "{what}: no capability added"
            );
            assert_eq!(pod["automountServiceAccountToken"], false, "{what}");
            let keys: BTreeSet<&str> = seq(&pod["topologySpreadConstraints"])
                .iter()
                .filter(|t| selects(&t["labelSelector"]["matchLabels"], pod_labels(deployment)))
                .map(|t| str_of(&t["topologyKey"]))
                .collect();
            assert_eq!(
                keys,
                BTreeSet::from(["kubernetes.io/hostname", "topology.kubernetes.io/zone"]),
                "{what}: spread across nodes and zones"
            );
            // A stopping pod leaves the endpoints during preStop; then SIGTERM.
            assert!(pre_stop_seconds(c) >= 3, "{what}: preStop wait");
            let budgets: Vec<_> = of_kind(&objects, "PodDisruptionBudget")
                .into_iter()
                .filter(|b| {
                    selects(
                        &b["spec"]["selector"]["matchLabels"],
                        pod_labels(deployment),
                    )
                })
                .collect();
            assert_eq!(budgets.len(), 1, "{what}: one PodDisruptionBudget");
            assert_eq!(budgets[0]["spec"]["maxUnavailable"], 1, "{what}");
        }
        for (service, binary) in SERVICES {
            let deployment = named(&objects, "Deployment", service);
            let what = format!("{name}: {service}");
            let c = container(deployment);
            assert_eq!(
                pod_spec(deployment)["securityContext"]["runAsUser"].as_u64(),
                Some(dockerfile_uid()),
                "{what}: the Dockerfile's user"
            );
            // A database outage makes the pod unready (/readyz), never restarts it
            // (/healthz needs no database); the startup probe allows minutes of migrations.
            assert_eq!(c["startupProbe"]["httpGet"]["path"], "/readyz", "{what}");
            assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz", "{what}");
            assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz", "{what}");
            let startup = &c["startupProbe"];
            let allowed = startup["periodSeconds"].as_u64().unwrap()
                * startup["failureThreshold"].as_u64().unwrap();
            assert!(
                allowed >= 120,
                "{what}: the startup probe allows {allowed} s"
            );
            // SIGKILL only after preStop, the graceful stop and a margin.
            let env = environment(&objects, c);
            let grace = match env.get("SHUTDOWN_GRACE_SECONDS") {
                Some(v) => v.clone(),
                None => default_in_help(binary, "SHUTDOWN_GRACE_SECONDS"),
            };
            let grace: u64 = grace.parse().unwrap();
            let period = pod_spec(deployment)["terminationGracePeriodSeconds"]
                .as_u64()
                .unwrap();
            assert!(
                period > pre_stop_seconds(c) + grace,
                "{what}: terminationGracePeriodSeconds {period} <= preStop {} + SHUTDOWN_GRACE_SECONDS {grace}",
                pre_stop_seconds(c)
            );
        }
        // Migrations run on start, under the advisory lock: no Job runs them (a second
        // path to the same schema), and no service is started with `migrate`.
        for kind in ["Job", "CronJob"] {
            assert!(of_kind(&objects, kind).is_empty(), "{name}: no {kind}");
        }
        for (service, _) in SERVICES {
            let c = container(named(&objects, "Deployment", service));
            assert!(
                c["args"].is_null() && c["command"].is_null(),
                "{name}: {service} runs the image's entrypoint"
            );
        }
    }
}

/// The Secrets deploy/k8s/create-secrets makes (its `new_secret NAME ARGS...` calls), each
/// with the keys its `--from-literal=KEY=...` and `--from-file=[KEY=]PATH` arguments give it.
fn secrets_created() -> BTreeMap<String, BTreeSet<String>> {
    let script = read("deploy/k8s/create-secrets").replace("\\\n", " ");
    let mut secrets: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for call in script
        .lines()
        .filter_map(|l| l.trim().strip_prefix("new_secret "))
    {
        let mut words = call.split_whitespace();
        let keys = secrets.entry(words.next().unwrap().to_owned()).or_default();
        for arg in words {
            let (literal, file) = (
                arg.strip_prefix("--from-literal="),
                arg.strip_prefix("--from-file="),
            );
            let key = match (literal, file) {
                (Some(kv), _) => kv.split('=').next().unwrap(),
                (None, Some(kv)) if kv.contains('=') => kv.split('=').next().unwrap(),
                // --from-file=PATH: the file's name is the key.
                (None, Some(path)) => path.rsplit('/').next().unwrap(),
                (None, None) => continue,
            };
            keys.insert(key.trim_matches('"').to_owned());
        }
    }
    secrets
}

#[test]
fn the_key_files_are_where_the_secrets_are_mounted_and_every_secret_is_created() {
    let Some(kubectl) = kubectl() else { return };
    let created = secrets_created();
    assert!(
        created["auth-signing-keys"].contains("signing-key.pem"),
        "{created:?}"
    );
    for (name, objects) in renderings(&kubectl) {
        for (service, _) in SERVICES {
            let deployment = named(&objects, "Deployment", service);
            let pod = pod_spec(deployment);
            let c = container(deployment);
            let env = environment(&objects, c);
            // mount path -> (Secret, its keys as create-secrets makes them)
            let mut secret_dirs = BTreeMap::new();
            for mount in seq(&c["volumeMounts"]) {
                let volume = seq(&pod["volumes"])
                    .iter()
                    .find(|v| v["name"] == mount["name"])
                    .unwrap();
                if let Some(secret) = volume["secret"]["secretName"].as_str() {
                    let keys = created.get(secret).unwrap_or_else(|| {
                        panic!("{name}: create-secrets makes no Secret {secret}")
                    });
                    assert_eq!(
                        mount["readOnly"], true,
                        "{name}: {service} mounts {secret} read-only"
                    );
                    secret_dirs.insert(str_of(&mount["mountPath"]).to_owned(), keys);
                }
            }
            let files: Vec<(&String, &str)> = env
                .iter()
                .filter(|(k, _)| k.ends_with("_FILE") || k.ends_with("_FILES"))
                .flat_map(|(k, v)| v.split(',').map(move |f| (k, f.trim())))
                .collect();
            if service == "auth" {
                assert!(
                    env.contains_key("JWT_PRIVATE_KEY_FILE"),
                    "{name}: auth's signing key"
                );
            }
            for (var, file) in files {
                let (dir, key) = file.rsplit_once('/').unwrap();
                let keys = secret_dirs.get(dir).unwrap_or_else(|| {
                    panic!("{name}: {service}'s {var} ({file}) is not in a mounted Secret")
                });
                assert!(
                    keys.contains(key),
                    "{name}: {var} names {key}, which create-secrets does not make"
                );
            }
            for var in seq(&c["env"]) {
                if let Some(r) = var["valueFrom"]["secretKeyRef"].as_mapping() {
                    let secret = str_of(&r["name"]);
                    let keys = created.get(secret).unwrap_or_else(|| {
                        panic!("{name}: create-secrets makes no Secret {secret}")
                    });
                    assert!(
                        keys.contains(str_of(&r["key"])),
                        "{name}: {secret}/{:?}",
                        r["key"]
                    );
                }
            }
        }
    }
}

/// The gateway's routes (deploy/gateway/routes.conf): `(exact, path, upstream)` for each
/// `location` passed to a service.
fn gateway_routes() -> Vec<(bool, String, String)> {
    read("deploy/gateway/routes.conf")
        .lines()
        .filter_map(|l| {
            let rest = l.trim().strip_prefix("location ")?;
            let (exact, rest) = match rest.strip_prefix("= ") {
                Some(r) => (true, r),
                None => (false, rest),
            };
            let path = rest.split_whitespace().next()?;
            let upstream = rest
                .split("proxy_pass http://$")
                .nth(1)?
                .split("_upstream")
                .next()?;
            Some((exact, path.to_owned(), upstream.to_owned()))
        })
        .collect()
}

#[test]
fn the_ingress_routes_what_the_gateway_routes_and_nothing_internal() {
    let Some(kubectl) = kubectl() else { return };
    let routes = gateway_routes();
    assert!(routes.len() >= 10, "{routes:?}");
    for (name, objects) in renderings(&kubectl) {
        let ingresses = of_kind(&objects, "Ingress");
        assert_eq!(ingresses.len(), 1, "{name}: one Ingress");
        let spec = &ingresses[0]["spec"];
        assert_eq!(spec["ingressClassName"], "nginx", "{name}");
        let paths: Vec<(&str, &str, &str)> = seq(&spec["rules"])
            .iter()
            .flat_map(|r| seq(&r["http"]["paths"]))
            .map(|p| {
                (
                    str_of(&p["pathType"]),
                    str_of(&p["path"]),
                    str_of(&p["backend"]["service"]["name"]),
                )
            })
            .collect();
        for (exact, path, upstream) in &routes {
            // Kubernetes' Prefix matches whole path elements: `/token` serves `/token/...`.
            let same = |p: &str| match exact {
                true => p == path,
                false => p.trim_end_matches('/') == path.trim_end_matches('/'),
            };
            let kind = if *exact { "Exact" } else { "Prefix" };
            assert!(
                paths.iter().any(|&(k, p, s)| k == kind && same(p) && s == upstream),
                "{name}: the gateway sends {kind} {path} to {upstream}; the Ingress does not: {paths:?}"
            );
        }
        // Every backend is a Service on its `http` port, and the scrape and the feed of
        // ended sessions are not routed.
        for (kind, path, service) in &paths {
            named(&objects, "Service", service);
            for internal in ["/metrics", "/sessions/ended"] {
                let routed = match *kind {
                    "Exact" => path == &internal,
                    _ => internal.starts_with(path.trim_end_matches('/')) && *path != "/",
                };
                assert!(!routed, "{name}: {kind} {path} routes {internal}");
            }
        }
        // The docs server serves what the Ingress sends it.
        let conf = read("deploy/k8s/base/docs-nginx.conf");
        for (kind, path, service) in &paths {
            if *service == "docs" {
                assert_eq!(*kind, "Exact", "{name}: docs serves single files");
                assert!(
                    conf.contains(&format!("location = {path} ")),
                    "{name}: docs-nginx.conf has no {path}"
                );
            }
        }
    }
}

#[test]
fn network_policies_deny_by_default_and_let_each_service_be_reached() {
    let Some(kubectl) = kubectl() else { return };
    for (name, objects) in renderings(&kubectl) {
        let policies = of_kind(&objects, "NetworkPolicy");
        assert!(
            policies.iter().any(|p| p["spec"]["podSelector"]
                .as_mapping()
                .is_some_and(|m| m.is_empty())
                && seq(&p["spec"]["policyTypes"]) == [Value::from("Ingress")]
                && p["spec"]["ingress"].is_null()),
            "{name}: a default deny"
        );
        let allowing = |target: &str| -> Vec<&Value> {
            let labels = pod_labels(named(&objects, "Deployment", target));
            policies
                .iter()
                .filter(|p| selects(&p["spec"]["podSelector"]["matchLabels"], labels))
                .flat_map(|p| seq(&p["spec"]["ingress"]))
                .collect()
        };
        // posts reaches auth (JWKS, ended sessions); nothing reaches posts but the
        // controller and the scraper (namespaces), not another pod of this namespace.
        let posts_labels = pod_labels(named(&objects, "Deployment", "posts"));
        assert!(
            allowing("auth")
                .iter()
                .flat_map(|r| seq(&r["from"]))
                .any(|f| selects(&f["podSelector"]["matchLabels"], posts_labels)),
            "{name}: posts reaches auth"
        );
        for target in ["auth", "posts", "docs"] {
            let rules = allowing(target);
            assert!(!rules.is_empty(), "{name}: something reaches {target}");
            for rule in rules {
                assert_eq!(seq(&rule["ports"]).len(), 1, "{name}: {target}: one port");
                assert_eq!(seq(&rule["ports"])[0]["port"], "http", "{name}: {target}");
                for from in seq(&rule["from"]) {
                    let namespace =
                        &from["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"];
                    assert!(
                        namespace.is_string() || from["podSelector"].is_mapping(),
                        "{name}: {target} from {from:?}"
                    );
                }
            }
        }
    }
}

/// `CONNECTION LIMIT` of each service role in deploy/postgres/init.sh.
fn connection_limits() -> BTreeMap<String, u64> {
    read("deploy/postgres/init.sh")
        .lines()
        .filter_map(|l| {
            let role = l.strip_prefix("CREATE ROLE ")?.split_whitespace().next()?;
            let limit = l.split("CONNECTION LIMIT ").nth(1)?.trim_end_matches(';');
            Some((role.to_owned(), limit.parse().ok()?))
        })
        .collect()
}

#[test]
fn production_scales_within_the_database_limits_and_dev_runs_one_of_each() {
    let Some(kubectl) = kubectl() else { return };
    let limits = connection_limits();
    assert_eq!(limits.len(), 2, "{limits:?}");
    for (name, objects) in renderings(&kubectl) {
        let production = name.starts_with("production");
        let autoscalers = of_kind(&objects, "HorizontalPodAutoscaler");
        for (service, minimum) in [("auth", 2), ("posts", 3)] {
            let deployment = named(&objects, "Deployment", service);
            if !production {
                assert_eq!(deployment["spec"]["replicas"], 1, "{name}: one {service}");
                assert!(autoscalers.is_empty(), "{name}: no autoscaler");
                continue;
            }
            // The autoscaler owns the replica count: an apply must not reset it.
            assert!(
                deployment["spec"]["replicas"].is_null(),
                "{name}: {service} replicas"
            );
            let hpa = named(&objects, "HorizontalPodAutoscaler", service);
            let spec = &hpa["spec"];
            assert_eq!(spec["scaleTargetRef"]["kind"], "Deployment");
            assert_eq!(spec["scaleTargetRef"]["name"], service);
            assert_eq!(spec["minReplicas"], minimum, "{name}: {service}");
            let metrics = seq(&spec["metrics"]);
            assert_eq!(metrics.len(), 1);
            assert_eq!(
                metrics[0]["resource"]["name"], "cpu",
                "{name}: {service} scales on CPU"
            );
            let pool: u64 = environment(&objects, container(deployment))["DATABASE_POOL_SIZE"]
                .parse()
                .unwrap();
            let most = spec["maxReplicas"].as_u64().unwrap();
            assert!(most > minimum, "{name}: {service} can scale");
            assert!(
                most * pool <= limits[service],
                "{name}: {most} {service} replicas x {pool} connections exceed the role's CONNECTION LIMIT {}",
                limits[service]
            );
        }
        // The dev overlay brings its database, production uses yours.
        assert_eq!(
            of_kind(&objects, "StatefulSet").len(),
            usize::from(!production),
            "{name}"
        );
    }
}

#[test]
fn the_prometheus_rule_is_the_rules_file_and_the_service_monitor_scrapes_both_services() {
    let Some(kubectl) = kubectl() else { return };
    let rules = yaml("deploy/monitoring/alerts.yml");
    let (_, objects) = renderings(&kubectl).pop().unwrap();
    let rule = &of_kind(&objects, "PrometheusRule")[0];
    assert_eq!(
        rule["spec"]["groups"], rules["groups"],
        "prometheus-rule.yaml is alerts.yml"
    );
    assert_eq!(rule["metadata"]["namespace"], "posts-api");
    let monitor = &of_kind(&objects, "ServiceMonitor")[0];
    let endpoint = &seq(&monitor["spec"]["endpoints"])[0];
    assert_eq!(endpoint["path"], "/metrics");
    let values = seq(&seq(&monitor["spec"]["selector"]["matchExpressions"])[0]["values"]);
    for (service, _) in SERVICES {
        assert!(
            values.contains(&Value::from(service)),
            "the ServiceMonitor selects {service}"
        );
        let svc = named(&objects, "Service", service);
        assert!(seq(&svc["spec"]["ports"])
            .iter()
            .any(|p| p["name"] == endpoint["port"]));
        assert_eq!(
            svc["metadata"]["labels"][str_of(&monitor["spec"]["jobLabel"])],
            service,
            "job {service}"
        );
    }
}

/// The metrics a PromQL expression reads, each with the `job` its selector names (if one):
/// identifiers other than functions, keywords, label names in `by (...)` and the like, and
/// what is inside strings, selectors and ranges.
fn metrics_in(expr: &str) -> Vec<(String, Option<String>)> {
    // Keywords, and the aggregations, which may stand before `by (...)` instead of `(`.
    const KEYWORDS: [&str; 17] = [
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
    ];
    const LABEL_LISTS: [&str; 6] = [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];
    let chars: Vec<char> = expr.chars().collect();
    // The index just past the bracket that closes the one at `i`, quotes respected.
    let close = |i: usize, open: char, shut: char| -> usize {
        let (mut depth, mut quoted, mut j) = (0, false, i);
        while j < chars.len() {
            match chars[j] {
                '\\' if quoted => j += 1,
                '"' => quoted = !quoted,
                c if c == open && !quoted => depth += 1,
                c if c == shut && !quoted => {
                    depth -= 1;
                    if depth == 0 {
                        return j + 1;
                    }
                }
                _ => {}
            }
            j += 1;
        }
        panic!("unbalanced {open} in {expr}");
    };
    let is_start = |c: char| c.is_ascii_alphabetic() || c == '_' || c == ':';
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            continue;
        }
        if c == '[' {
            i = close(i, '[', ']');
            continue;
        }
        if c == '{' {
            i = close(i, '{', '}');
            continue;
        }
        if c.is_ascii_digit() || c == '.' || c == '$' {
            // A number, a duration, a Grafana variable: skip the word.
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || "._$".contains(chars[i]))
            {
                i += 1;
            }
            continue;
        }
        if !is_start(c) {
            i += 1;
            continue;
        }
        let begin = i;
        while i < chars.len() && (is_start(chars[i]) || chars[i].is_ascii_digit()) {
            i += 1;
        }
        let word: String = chars[begin..i].iter().collect();
        let mut next = i;
        while next < chars.len() && chars[next].is_whitespace() {
            next += 1;
        }
        match chars.get(next) {
            Some('(') if LABEL_LISTS.contains(&word.as_str()) => i = close(next, '(', ')'),
            Some('(') => {} // a function
            _ if KEYWORDS.contains(&word.as_str()) || LABEL_LISTS.contains(&word.as_str()) => {}
            Some('{') => {
                let end = close(next, '{', '}');
                let selector: String = chars[next..end].iter().collect();
                let job = selector
                    .split("job=\"")
                    .nth(1)
                    .map(|rest| rest.split('"').next().unwrap().to_owned());
                found.push((word, job));
                i = end;
            }
            _ => found.push((word, None)),
        }
    }
    found
}

/// Every expression of the alert rules and of the dashboard's panels.
fn expressions() -> Vec<(String, String)> {
    let mut exprs = Vec::new();
    for group in seq(&yaml("deploy/monitoring/alerts.yml")["groups"]) {
        for rule in seq(&group["rules"]) {
            exprs.push((
                format!("alert {}", str_of(&rule["alert"])),
                str_of(&rule["expr"]).to_owned(),
            ));
        }
    }
    let dashboard: serde_json::Value =
        serde_json::from_str(&read("deploy/monitoring/grafana-dashboard.json"))
            .expect("the dashboard is JSON");
    let mut panels: Vec<&serde_json::Value> =
        dashboard["panels"].as_array().unwrap().iter().collect();
    while let Some(panel) = panels.pop() {
        panels.extend(panel["panels"].as_array().into_iter().flatten());
        for target in panel["targets"].as_array().into_iter().flatten() {
            let title = panel["title"].as_str().unwrap();
            exprs.push((
                format!("panel {title:?}"),
                target["expr"].as_str().unwrap().to_owned(),
            ));
        }
    }
    exprs
}

/// The metric names in an exposition (`# HELP` and `# TYPE` aside).
fn exposed(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap().to_owned())
        .collect()
}

#[test]
fn reading_promql_finds_metrics_and_not_labels_functions_or_strings() {
    let found = metrics_in(
        r#"histogram_quantile(0.99, sum by (job, le) (rate(http_request_duration_seconds_bucket{job="posts", route!~"/login|x"}[5m]))) > 0.25
           or max by (job) (db_pool_waiting) > 0 and on (instance) up offset 5m"#,
    );
    let expected = [
        (
            "http_request_duration_seconds_bucket".to_owned(),
            Some("posts".to_owned()),
        ),
        ("db_pool_waiting".to_owned(), None),
        ("up".to_owned(), None),
    ];
    assert_eq!(found, expected);
}

#[actix_web::test]
async fn every_metric_the_alerts_and_the_dashboard_name_is_one_the_services_export() {
    let stack = TestStack::start().await;
    // One request of each kind, so that every labelled series exists.
    for api in [stack.auth(), stack.posts()] {
        assert_eq!(api.get("/healthz", None).await.status(), 200);
        api.get("/no-such-path", None).await;
    }
    let auth = exposed(&scrape_metrics(stack.auth()).await);
    let posts = exposed(&scrape_metrics(stack.posts()).await);
    stack.stop().await;
    // Not the services': Prometheus' own per target, and kube-state-metrics'.
    let elsewhere = BTreeSet::from(["up", "kube_deployment_status_replicas_unavailable"]);
    let mut named = BTreeSet::new();
    for (place, expr) in expressions() {
        let metrics = metrics_in(&expr);
        assert!(!metrics.is_empty(), "{place} reads no metric: {expr}");
        for (metric, job) in metrics {
            let exported = match job.as_deref() {
                Some("auth") => auth.contains(&metric),
                Some("posts") => posts.contains(&metric),
                Some(other) => panic!("{place}: job {other} is neither auth nor posts"),
                None => auth.contains(&metric) || posts.contains(&metric),
            };
            assert!(
                exported || elsewhere.contains(metric.as_str()),
                "{place} reads {metric} (job {job:?}), which the services do not export.\nauth: {auth:?}\nposts: {posts:?}"
            );
            named.insert(metric);
        }
    }
    // What the issue asks the kit to watch is watched.
    for metric in [
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "db_pool_connections_in_use",
        "db_pool_waiting",
        "bcrypt_rejections_total",
        "jwks_refresh_failures_total",
        "revocation_list_age_seconds",
        "kube_deployment_status_replicas_unavailable",
    ] {
        assert!(named.contains(metric), "nothing reads {metric}");
    }
}

#[actix_web::test]
async fn the_probes_ask_paths_the_services_answer() {
    let Some(kubectl) = kubectl() else { return };
    let (_, objects) = renderings(&kubectl).remove(0);
    let stack = TestStack::start().await;
    for (service, api) in [("auth", stack.auth()), ("posts", stack.posts())] {
        let c = container(named(&objects, "Deployment", service));
        for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
            let path = str_of(&c[probe]["httpGet"]["path"]);
            let status = api.get(path, None).await.status();
            assert_eq!(status, 200, "{service}'s {probe}: GET {path}");
        }
    }
    stack.stop().await;
}
