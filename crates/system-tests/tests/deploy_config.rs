//! The deployment files checked against the workspace, since no Docker engine or cluster runs
//! where the tests do: `docker-compose.yml`, the Dockerfiles, nginx, Keycloak, Prometheus and
//! Grafana files, and the kustomize manifests in `deploy/k8s/`.
//!
//! What "the workspace" means here: the binaries' own definitions (name, port, database), the
//! environment variable names their source reads (`env.get("DB_HOST")`, ...), and the metric names
//! their source records (`metrics::gauge!("outbox_backlog", ..)`). A renamed variable, port or
//! metric that the deployment files do not follow fails a test here.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use serde::Deserialize;
use serde_json::Value;
use shop_common::service::ServiceDefinition;
use shop_system_tests::SERVICES;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|err| panic!("{path}: {err}"))
}

/// Every YAML document of a file, merge keys (`<<: *anchor`) applied, as JSON values.
fn yaml_documents(path: &str) -> Vec<Value> {
    let text = read(path);
    serde_norway::Deserializer::from_str(&text)
        .map(|document| {
            let mut value = serde_norway::Value::deserialize(document).unwrap_or_else(|e| panic!("{path}: {e}"));
            value.apply_merge().unwrap();
            serde_json::to_value(value).unwrap()
        })
        .filter(|value| !value.is_null())
        .collect()
}

fn yaml(path: &str) -> Value {
    let mut documents = yaml_documents(path);
    assert_eq!(documents.len(), 1, "{path}: one document expected");
    documents.remove(0)
}

/// A binary of the workspace as the deployment files must see it.
struct Binary {
    name: &'static str,
    package: &'static str,
    port: u16,
    database: Option<&'static str>,
    /// Source folders whose string literals are the variable names it can read.
    sources: Vec<&'static str>,
}

fn definition(name: &str) -> &'static ServiceDefinition {
    match name {
        "auth" => &shop_auth::DEFINITION,
        "catalog" => &shop_catalog::DEFINITION,
        "cart" => &shop_cart::DEFINITION,
        "order" => &shop_order::DEFINITION,
        "inventory" => &shop_inventory::DEFINITION,
        "analytics" => &shop_analytics::DEFINITION,
        other => panic!("unknown service {other}"),
    }
}

fn binaries() -> Vec<Binary> {
    let mut out: Vec<Binary> = SERVICES
        .iter()
        .map(|spec| {
            let definition = definition(spec.name);
            let crate_dir: &'static str = Box::leak(format!("services/{}/src", spec.name).into_boxed_str());
            Binary {
                name: spec.name,
                package: spec.binary,
                port: definition.default_port,
                database: Some(definition.default_database),
                sources: vec![crate_dir, "crates/common/src", "crates/payments/src"],
            }
        })
        .collect();
    let gateway = shop_gateway::Settings::from_env(&shop_common::settings::Env::from_pairs([])).unwrap();
    out.push(Binary {
        name: "gateway",
        package: "shop-gateway",
        port: gateway.port,
        database: None,
        sources: vec!["gateway/src", "crates/common/src"],
    });
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

fn sources(dirs: &[&str]) -> String {
    let mut files = Vec::new();
    for dir in dirs {
        rust_files(&root().join(dir), &mut files);
    }
    files.iter().map(|f| std::fs::read_to_string(f).unwrap()).collect::<Vec<_>>().join("\n")
}

/// String literals that look like environment variable names (`"DB_HOST"`, `"PORT"`). Every
/// quote starts a candidate, so a stray quote character elsewhere cannot shift the pairing.
fn env_names(source: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (at, _) in source.match_indices('"') {
        let candidate: String = source[at + 1..]
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        if candidate.len() >= 4
            && candidate.starts_with(|c: char| c.is_ascii_uppercase())
            && source[at + 1 + candidate.len()..].starts_with('"')
        {
            out.insert(candidate);
        }
    }
    out
}

/// Variables read by libraries rather than by a literal in our code.
const LIBRARY_VARIABLES: &[&str] = &["RUST_LOG", "RUST_BACKTRACE"];

fn names_read_by(binary: &Binary) -> BTreeSet<String> {
    let mut names = env_names(&sources(&binary.sources));
    names.extend(LIBRARY_VARIABLES.iter().map(|v| (*v).to_owned()));
    names
}

fn compose() -> Value {
    yaml("docker-compose.yml")
}

fn env_map(environment: &Value) -> BTreeMap<String, String> {
    match environment {
        Value::Object(map) => {
            map.iter().map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned))).collect()
        }
        Value::Array(items) => items
            .iter()
            .map(|item| {
                let (k, v) = item.as_str().unwrap().split_once('=').unwrap();
                (k.to_owned(), v.to_owned())
            })
            .collect(),
        Value::Null => BTreeMap::new(),
        other => panic!("unexpected environment {other}"),
    }
}

// ---------------------------------------------------------------------------------------------
// docker-compose.yml

#[test]
fn compose_runs_every_binary_with_the_variables_ports_and_health_checks_it_reads() {
    let compose = compose();
    let services = compose["services"].as_object().unwrap();
    for binary in binaries() {
        let name = binary.name;
        let service = services.get(name).unwrap_or_else(|| panic!("docker-compose.yml has no service {name}"));
        // Built from an existing Dockerfile, for this binary, which is a package of the workspace.
        let build = &service["build"];
        let dockerfile = build["dockerfile"].as_str().unwrap();
        assert!(root().join(dockerfile).is_file(), "{name}: {dockerfile} missing");
        assert_eq!(build["args"]["BIN"], binary.package, "{name}: build arg BIN");
        let manifest =
            if name == "gateway" { "gateway/Cargo.toml".to_owned() } else { format!("services/{name}/Cargo.toml") };
        assert!(
            read(&manifest).contains(&format!("name = \"{}\"", binary.package)),
            "{name}: no package {}",
            binary.package
        );

        let env = env_map(&service["environment"]);
        let known = names_read_by(&binary);
        for variable in env.keys() {
            assert!(
                known.contains(variable),
                "{name}: docker-compose.yml sets {variable}, which the binary never reads (known: {known:?})"
            );
        }
        assert_eq!(env.get("PORT").map(String::as_str), Some(binary.port.to_string().as_str()), "{name}: PORT");
        assert_eq!(env.get("HOST").map(String::as_str), Some("0.0.0.0"), "{name}: HOST");
        if let Some(database) = binary.database {
            assert_eq!(env.get("DB_NAME").map(String::as_str), Some(database), "{name}: DB_NAME");
            assert_eq!(env.get("SERVICE_ID").map(String::as_str), Some(name), "{name}: SERVICE_ID");
            assert_eq!(env.get("DB_HOST").map(String::as_str), Some("postgres"), "{name}: DB_HOST");
            assert_eq!(env.get("KAFKA_BOOTSTRAP").map(String::as_str), Some("kafka:9092"), "{name}: KAFKA_BOOTSTRAP");
            assert!(env.contains_key("KAFKA_GROUP_INSTANCE_ID"), "{name}: static group membership");
            for dependency in ["postgres", "redis", "kafka"] {
                assert_eq!(
                    service["depends_on"][dependency]["condition"], "service_healthy",
                    "{name} must wait for a healthy {dependency}"
                );
            }
        }
        let health = service["healthcheck"]["test"].to_string();
        assert!(health.contains(&format!("localhost:{}/health", binary.port)), "{name}: health check {health}");
    }

    // The gateway routes to every service by its compose name and port, and publishes 5001.
    let gateway = &services["gateway"];
    let env = env_map(&gateway["environment"]);
    for binary in binaries().iter().filter(|b| b.database.is_some()) {
        let variable = SERVICES.iter().find(|s| s.name == binary.name).unwrap().url_variable;
        assert_eq!(env.get(variable), Some(&format!("http://{}:{}", binary.name, binary.port)), "gateway {variable}");
        assert_eq!(
            gateway["depends_on"][binary.name]["condition"], "service_healthy",
            "gateway waits for {}",
            binary.name
        );
    }
    assert!(gateway["ports"].as_array().unwrap().iter().any(|p| p == "5001:5001"), "gateway publishes 5001");
    let order = env_map(&services["order"]["environment"]);
    assert_eq!(order.get("CART_SERVICE_URL").map(String::as_str), Some("http://cart:5103"));
}

#[test]
fn compose_infrastructure_depends_on_and_mounts_are_consistent() {
    let compose = compose();
    let services = compose["services"].as_object().unwrap();
    for required in ["postgres", "redis", "kafka", "keycloak", "prometheus", "grafana", "nginx"] {
        assert!(services.contains_key(required), "docker-compose.yml has no {required}");
    }
    let published = |name: &str| -> Vec<String> {
        services[name]["ports"]
            .as_array()
            .map_or_else(Vec::new, |p| p.iter().map(|p| p.as_str().unwrap().to_owned()).collect())
    };
    assert!(published("prometheus").contains(&"9090:9090".to_owned()), "Prometheus on 9090");
    assert!(published("grafana").contains(&"3010:3000".to_owned()), "Grafana on 3010");
    assert!(published("nginx").iter().any(|p| p.starts_with("80:")), "nginx on 80");
    assert!(services["kafka"]["image"].as_str().unwrap().starts_with("apache/kafka"), "Apache Kafka");
    let kafka = env_map(&services["kafka"]["environment"]);
    assert!(kafka["KAFKA_PROCESS_ROLES"].contains("controller"), "Kafka in KRaft mode");

    for (name, service) in services {
        assert!(service["healthcheck"]["test"].is_array(), "{name}: no health check");
        if let Some(depends) = service["depends_on"].as_object() {
            for (target, condition) in depends {
                let target_service =
                    services.get(target).unwrap_or_else(|| panic!("{name} depends on {target}, which is not defined"));
                let condition = condition["condition"].as_str().unwrap();
                assert!(["service_started", "service_healthy", "service_completed_successfully"].contains(&condition));
                if condition == "service_healthy" {
                    assert!(
                        target_service["healthcheck"].is_object(),
                        "{name} waits for {target} health: none defined"
                    );
                }
            }
        }
        if let Some(dockerfile) = service["build"]["dockerfile"].as_str() {
            assert!(root().join(dockerfile).is_file(), "{name}: {dockerfile} missing");
        }
        for volume in service["volumes"].as_array().into_iter().flatten() {
            let source = volume.as_str().unwrap().split(':').next().unwrap();
            if let Some(path) = source.strip_prefix("./") {
                assert!(root().join(path).exists(), "{name} mounts ./{path}, which does not exist");
            } else {
                let volumes = compose["volumes"].as_object().unwrap();
                assert!(volumes.contains_key(source), "{name}: named volume {source} not declared");
            }
        }
    }

    // Every database a service uses (and Keycloak's) is created by the init script.
    let init = read("deploy/postgres/init.sql");
    for binary in binaries() {
        if let Some(database) = binary.database {
            assert!(init.contains(&format!("CREATE DATABASE {database} ")), "init.sql does not create {database}");
        }
    }
    let keycloak = env_map(&services["keycloak"]["environment"]);
    let keycloak_db = keycloak["KC_DB_URL"].rsplit('/').next().unwrap().to_owned();
    assert!(init.contains(&format!("CREATE DATABASE {keycloak_db} ")), "init.sql does not create {keycloak_db}");
}

#[test]
fn keycloak_realm_matches_the_gateway_oidc_settings() {
    let compose = compose();
    let services = &compose["services"];
    let mount = services["keycloak"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .find(|v| v.contains("/opt/keycloak/data/import/"))
        .expect("the realm is mounted into Keycloak's import folder");
    assert!(services["keycloak"]["command"].to_string().contains("--import-realm"));
    let realm_file = mount.split(':').next().unwrap().trim_start_matches("./");
    let realm: Value = serde_json::from_str(&read(realm_file)).unwrap();
    let realm_name = realm["realm"].as_str().unwrap();
    let roles: BTreeSet<&str> =
        realm["roles"]["realm"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert!(roles.contains("customer") && roles.contains("admin"), "realm roles: {roles:?}");
    assert!(!realm["clients"].as_array().unwrap().is_empty(), "the realm has a client");

    let gateway = env_map(&services["gateway"]["environment"]);
    let issuer = &gateway["OIDC_ISSUER"];
    let jwks = &gateway["OIDC_JWKS_URL"];
    assert!(issuer.ends_with(&format!("/realms/{realm_name}")), "OIDC_ISSUER {issuer}");
    assert_eq!(jwks, &format!("http://keycloak:8080/realms/{realm_name}/protocol/openid-connect/certs"));
    let keycloak = env_map(&services["keycloak"]["environment"]);
    assert_eq!(issuer, &format!("{}/realms/{realm_name}", keycloak["KC_HOSTNAME"]), "tokens' iss = OIDC_ISSUER");
    if let Some(audience) = gateway.get("OIDC_AUDIENCE") {
        assert!(read(realm_file).contains(&format!("\"included.custom.audience\": \"{audience}\"")), "aud {audience}");
    }
}

#[test]
fn dockerfiles_are_multi_stage_cached_and_non_root_and_nginx_serves_the_spa() {
    let backend = read("deploy/Dockerfile");
    assert!(backend.matches("\nFROM ").count() + usize::from(backend.starts_with("FROM ")) >= 3, "multi-stage");
    assert!(backend.contains("cargo chef cook"), "dependency layer cached (cargo-chef)");
    let runtime = &backend[backend.rfind("\nFROM ").unwrap()..];
    assert!(runtime.contains("-slim"), "small runtime image");
    assert!(runtime.contains("USER ") && !runtime.contains("USER root"), "non-root runtime");
    for binary in binaries() {
        assert!(
            backend.contains(&format!("-p {}", binary.package)),
            "deploy/Dockerfile does not build {}",
            binary.package
        );
    }

    let frontend = read("deploy/frontend.Dockerfile");
    assert!(frontend.matches("FROM ").count() >= 2, "frontend image is multi-stage");
    let package_layer = frontend.find("COPY frontend/package.json").expect("package manifests copied first");
    assert!(package_layer < frontend.find("COPY frontend/ ").unwrap(), "npm ci layer before the sources");
    assert!(frontend.contains("nginx-unprivileged"), "nginx runs as non-root");
    assert!(frontend.contains("/usr/share/nginx/html/app"), "dist served from /app");
    assert!(frontend.contains("COPY deploy/nginx/nginx.conf"));

    let nginx = read("deploy/nginx/nginx.conf");
    assert!(nginx.contains("root /usr/share/nginx/html;"));
    assert!(nginx.contains("location /app/ {") && nginx.contains("try_files $uri $uri/ /app/index.html;"));
    assert!(nginx.contains("server gateway:5001;") && nginx.contains("proxy_pass http://gateway;"));
    assert!(nginx.contains("listen 8080;"));
    let compose = compose();
    assert!(compose["services"]["nginx"]["ports"].as_array().unwrap().iter().any(|p| p == "80:8080"));
    if let Ok(vite) = std::fs::read_to_string(root().join("frontend/vite.config.ts")) {
        assert!(vite.contains("base: '/app/'"), "the SPA is built for /app/");
    }
}

#[test]
fn prometheus_and_grafana_files_point_at_the_compose_services() {
    let compose = compose();
    let services = &compose["services"];
    let prometheus = yaml("deploy/prometheus/prometheus.yml");
    let targets: BTreeSet<String> = prometheus["scrape_configs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|job| job["static_configs"].as_array().unwrap().clone())
        .flat_map(|config| config["targets"].as_array().unwrap().clone())
        .map(|t| t.as_str().unwrap().to_owned())
        .collect();
    for binary in binaries() {
        assert!(targets.contains(&format!("{}:{}", binary.name, binary.port)), "no scrape target for {}", binary.name);
    }
    for rules in prometheus["rule_files"].as_array().unwrap() {
        assert!(root().join("deploy/prometheus").join(rules.as_str().unwrap()).is_file(), "rule file {rules}");
    }
    assert!(services["prometheus"]["volumes"].to_string().contains("./deploy/prometheus:/etc/prometheus"));

    let datasource = yaml("deploy/grafana/provisioning/datasources/prometheus.yml");
    assert_eq!(datasource["datasources"][0]["url"], "http://prometheus:9090");
    let provider = yaml("deploy/grafana/provisioning/dashboards/shop.yml");
    let path = provider["providers"][0]["options"]["path"].as_str().unwrap();
    assert!(
        services["grafana"]["volumes"].to_string().contains(&format!("./deploy/grafana/dashboards:{path}")),
        "the dashboards folder is mounted where the provider reads"
    );
    let uid = datasource["datasources"][0]["uid"].as_str().unwrap();
    for (file, dashboard) in dashboards() {
        for panel in panels(&dashboard) {
            if panel["type"] != "row" {
                assert_eq!(panel["datasource"]["uid"], uid, "{file}: panel {} datasource", panel["title"]);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Kubernetes

fn k8s_documents() -> Vec<Value> {
    let kustomization = yaml("deploy/k8s/kustomization.yaml");
    kustomization["resources"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|file| yaml_documents(&format!("deploy/k8s/{}", file.as_str().unwrap())))
        .collect()
}

fn find<'a>(documents: &'a [Value], kind: &str, name: &str) -> &'a Value {
    documents
        .iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("deploy/k8s has no {kind} {name}"))
}

#[test]
fn kustomization_lists_every_manifest() {
    let kustomization = yaml("deploy/k8s/kustomization.yaml");
    let listed: BTreeSet<String> =
        kustomization["resources"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_owned()).collect();
    let on_disk: BTreeSet<String> = std::fs::read_dir(root().join("deploy/k8s"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|f| f.ends_with(".yaml") && f != "kustomization.yaml")
        .collect();
    assert_eq!(listed, on_disk, "kustomization.yaml resources vs files in deploy/k8s");
}

#[test]
fn k8s_has_a_deployment_service_and_autoscaler_per_binary() {
    let documents = k8s_documents();
    let config = find(&documents, "ConfigMap", "shop-config");
    let secret = find(&documents, "Secret", "shop-secrets");
    let mut all_known = BTreeSet::new();
    for binary in binaries() {
        let name = binary.name;
        let known = names_read_by(&binary);
        all_known.extend(known.iter().cloned());
        let deployment = find(&documents, "Deployment", name);
        let pod = &deployment["spec"]["template"]["spec"];
        let container = &pod["containers"][0];
        assert_eq!(container["image"], format!("shop/{name}:latest"), "{name}: image");
        assert_eq!(container["ports"][0]["containerPort"], binary.port, "{name}: containerPort");
        for probe in ["readinessProbe", "livenessProbe"] {
            assert_eq!(container[probe]["httpGet"]["path"], "/health", "{name}: {probe}");
        }
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{name}: non-root");
        let env_from: Vec<String> = container["envFrom"].as_array().unwrap().iter().map(Value::to_string).collect();
        assert!(
            env_from.iter().any(|e| e.contains("shop-config")) && env_from.iter().any(|e| e.contains("shop-secrets"))
        );
        let mut env = BTreeMap::new();
        for variable in container["env"].as_array().unwrap() {
            let variable_name = variable["name"].as_str().unwrap().to_owned();
            assert!(known.contains(&variable_name), "{name}: k8s sets {variable_name}, which the binary never reads");
            env.insert(variable_name, variable.clone());
        }
        assert_eq!(env["PORT"]["value"], binary.port.to_string(), "{name}: PORT");
        if let Some(database) = binary.database {
            assert_eq!(env["DB_NAME"]["value"], database, "{name}: DB_NAME");
            assert_eq!(
                env["KAFKA_GROUP_INSTANCE_ID"]["valueFrom"]["fieldRef"]["fieldPath"], "metadata.name",
                "{name}: one group instance id per replica, from the pod name"
            );
        }
        let service = find(&documents, "Service", name);
        assert_eq!(service["spec"]["ports"][0]["port"], binary.port, "{name}: Service port");
        assert_eq!(service["spec"]["selector"], deployment["spec"]["selector"]["matchLabels"], "{name}: selector");
        let hpa = find(&documents, "HorizontalPodAutoscaler", name);
        assert_eq!(hpa["spec"]["scaleTargetRef"]["name"], name);
    }
    for key in config["data"].as_object().unwrap().keys().chain(secret["stringData"].as_object().unwrap().keys()) {
        assert!(all_known.contains(key), "shop-config/shop-secrets set {key}, which no binary reads");
    }
    // The gateway reaches each service by its Service name and port.
    let gateway = &find(&documents, "Deployment", "gateway")["spec"]["template"]["spec"]["containers"][0]["env"];
    for binary in binaries().iter().filter(|b| b.database.is_some()) {
        let variable = SERVICES.iter().find(|s| s.name == binary.name).unwrap().url_variable;
        let value = gateway.as_array().unwrap().iter().find(|e| e["name"] == variable).unwrap()["value"].clone();
        assert_eq!(value, format!("http://{}:{}", binary.name, binary.port), "gateway {variable}");
    }
    let ingress = documents.iter().find(|d| d["kind"] == "Ingress").expect("an Ingress");
    assert!(ingress.to_string().contains("\"name\":\"gateway\""), "the Ingress routes to the gateway");
    for external in ["postgres", "kafka"] {
        assert_eq!(find(&documents, "Service", external)["spec"]["type"], "ExternalName", "{external} is external");
    }
}

/// `kubectl kustomize` (kustomize built into kubectl) renders the manifests, where kubectl exists;
/// the parse-only checks above run everywhere.
#[test]
fn kustomize_builds_where_kubectl_is_installed() {
    let Ok(output) = Command::new("kubectl").args(["kustomize"]).arg(root().join("deploy/k8s")).output() else {
        eprintln!("kubectl is not installed: kustomize build skipped (the manifests were parsed by the other tests)");
        return;
    };
    assert!(output.status.success(), "kubectl kustomize: {}", String::from_utf8_lossy(&output.stderr));
    let rendered = String::from_utf8(output.stdout).unwrap();
    let deployments = rendered.matches("\nkind: Deployment\n").count();
    assert_eq!(deployments, binaries().len() + 1, "Deployments rendered (binaries + frontend)");
    assert!(rendered.contains("namespace: shop"));
}

// ---------------------------------------------------------------------------------------------
// Dashboards and alert rules name only exported metrics

fn dashboards() -> Vec<(String, Value)> {
    let dir = root().join("deploy/grafana/dashboards");
    let mut out: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| (p.display().to_string(), serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(!out.is_empty(), "no dashboards in deploy/grafana/dashboards");
    out
}

fn panels(dashboard: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        out.push(panel.clone());
        out.extend(panel["panels"].as_array().cloned().unwrap_or_default());
    }
    out
}

/// Every PromQL string of a dashboard: panel targets and query variables.
fn dashboard_queries(dashboard: &Value) -> Vec<String> {
    let mut out: Vec<String> = panels(dashboard)
        .iter()
        .flat_map(|panel| panel["targets"].as_array().cloned().unwrap_or_default())
        .map(|target| target["expr"].as_str().unwrap().to_owned())
        .collect();
    for variable in dashboard["templating"]["list"].as_array().into_iter().flatten() {
        if let Some(query) = variable["query"]["query"].as_str().or_else(|| variable["query"].as_str()) {
            out.push(query.to_owned());
        }
    }
    out
}

/// Words of PromQL that are never metric names: keywords, and aggregation operators (which may be
/// followed by `by (...)` before their own parenthesis).
#[rustfmt::skip]
const PROMQL_KEYWORDS: &[&str] = &[
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset", "inf", "nan",
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk", "quantile",
];

/// Metric names a PromQL expression selects: identifiers that are not functions, keywords, label
/// names (inside `{}` or after `by (`), durations, strings or Grafana variables.
fn metric_names(promql: &str) -> BTreeSet<String> {
    let chars: Vec<char> = promql.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    let mut skip_next_group = false;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' | '`' => {
                i += 1;
                while i < chars.len() && chars[i] != c {
                    i += if chars[i] == '\\' { 2 } else { 1 };
                }
                i += 1;
            }
            '{' | '[' => {
                let close = if c == '{' { '}' } else { ']' };
                while i < chars.len() && chars[i] != close {
                    i += 1;
                }
                i += 1;
            }
            '(' if skip_next_group => {
                while i < chars.len() && chars[i] != ')' {
                    i += 1;
                }
                skip_next_group = false;
                i += 1;
            }
            '$' => {
                i += 1;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
            }
            c if c.is_ascii_digit() || c == '.' => {
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
            }
            c if c.is_alphabetic() || c == '_' || c == ':' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == ':') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let next = chars[i..].iter().find(|c| !c.is_whitespace()).copied();
                if ["by", "without", "on", "ignoring", "group_left", "group_right"].contains(&word.as_str()) {
                    skip_next_group = next == Some('(');
                } else if next == Some('(') || PROMQL_KEYWORDS.contains(&word.to_lowercase().as_str()) {
                    // A function or aggregation, or a keyword.
                } else {
                    names.insert(word);
                }
            }
            _ => i += 1,
        }
    }
    names
}

/// Grafana's `label_values(metric, label)` names its metric as a function argument.
fn query_metric_names(query: &str) -> BTreeSet<String> {
    match query.trim().strip_prefix("label_values(") {
        Some(rest) => rest.split([',', ')']).next().map(|m| m.trim().to_owned()).into_iter().collect(),
        None => metric_names(query),
    }
}

/// Metric names recorded in the source of the services, the gateway and common (`counter!`,
/// `gauge!`, `histogram!` with a literal or a `const` name), histograms with their sub-series,
/// plus Prometheus' own `up`.
fn exported_metric_names() -> BTreeSet<String> {
    let source = sources(&["crates/common/src", "services", "gateway/src"]);
    let constants: BTreeMap<String, String> = source
        .lines()
        .filter_map(|line| {
            let line = line.trim_start().trim_start_matches("pub ").trim_start_matches("pub(crate) ");
            let rest = line.strip_prefix("const ")?;
            let (name, value) = rest.split_once(": &str = \"")?;
            Some((name.trim().to_owned(), value.split('"').next()?.to_owned()))
        })
        .collect();
    let mut names = BTreeSet::from(["up".to_owned()]);
    for kind in ["counter!(", "gauge!(", "histogram!("] {
        for (at, _) in source.match_indices(kind) {
            let argument = source[at + kind.len()..].trim_start();
            let name = if let Some(literal) = argument.strip_prefix('"') {
                literal.split('"').next().unwrap().to_owned()
            } else {
                let ident: String = argument.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                let short = ident.rsplit("::").next().unwrap_or(&ident).to_owned();
                match constants.get(&short) {
                    Some(value) => value.clone(),
                    None => continue,
                }
            };
            if kind == "histogram!(" {
                for suffix in ["_bucket", "_sum", "_count"] {
                    names.insert(format!("{name}{suffix}"));
                }
            }
            names.insert(name);
        }
    }
    names
}

#[test]
fn the_metric_name_extractor_finds_selectors_and_nothing_else() {
    let names = metric_names(
        r#"histogram_quantile(0.99, sum by (service, le) (rate(http_request_duration_seconds_bucket{service=~"$service", route!~"/health"}[$__rate_interval]))) / on (service) group_left max without (instance) (db_pool_connections{state="max"} offset 5m) > bool 0.5 or vector(0)"#,
    );
    assert_eq!(names, BTreeSet::from(["db_pool_connections".into(), "http_request_duration_seconds_bucket".into()]));
    assert_eq!(
        query_metric_names("label_values(http_requests_total, service)"),
        BTreeSet::from(["http_requests_total".into()])
    );
    // The code scan finds literal and const names, histogram sub-series included.
    let exported = exported_metric_names();
    for name in [
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "kafka_consumer_lag",
        "outbox_backlog",
        "gateway_auth_failures_total",
        "ecommerce_inventory_stock",
    ] {
        assert!(exported.contains(name), "{name} not found by the code scan: {exported:?}");
    }
    // A misspelt metric is caught.
    assert!(!exported.contains("http_request_total"));
}

#[test]
fn dashboards_and_alerts_name_only_metrics_the_services_export() {
    let exported = exported_metric_names();
    let mut used = BTreeSet::new();
    let mut all_queries = Vec::new();
    for (file, dashboard) in dashboards() {
        assert!(dashboard["uid"].is_string() && dashboard["title"].is_string(), "{file}: uid and title");
        let queries = dashboard_queries(&dashboard);
        assert!(!queries.is_empty(), "{file}: no queries");
        for query in &queries {
            let names = query_metric_names(query);
            assert!(!names.is_empty(), "{file}: query names no metric: {query}");
            for name in names {
                assert!(exported.contains(&name), "{file}: {name} is not exported by any binary (query: {query})");
                used.insert(name);
            }
        }
        all_queries.extend(queries.into_iter().filter(|q| !q.starts_with("label_values(")));
    }
    // What the issue asks the dashboards to show.
    for required in [
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "ecommerce_orders_total",
        "analytics_net_revenue_minor",
        "ecommerce_inventory_stock",
        "kafka_consumer_lag",
        "outbox_backlog",
        "cache_requests_total",
        "db_pool_connections",
    ] {
        assert!(used.contains(required), "no dashboard panel shows {required}");
    }

    let alerts = yaml("deploy/prometheus/alerts.yml");
    let mut alert_names = BTreeSet::new();
    for group in alerts["groups"].as_array().unwrap() {
        for rule in group["rules"].as_array().unwrap() {
            alert_names.insert(rule["alert"].as_str().unwrap().to_owned());
            for name in metric_names(rule["expr"].as_str().unwrap()) {
                assert!(exported.contains(&name), "alert {}: {name} is not exported", rule["alert"]);
            }
        }
    }
    for required in ["ServiceDown", "HighErrorRatio", "HighLatencyP99", "ConsumerLagHigh", "OutboxBacklog", "LowStock"]
    {
        assert!(alert_names.contains(required), "alert rule {required} missing");
    }

    // Where promtool is installed (make monitoring-check), it parses every panel query.
    let promtool_present = Command::new("promtool").arg("--version").output().is_ok_and(|o| o.status.success());
    if !promtool_present {
        eprintln!("promtool is not installed: dashboard PromQL syntax not checked");
        return;
    }
    let dir = std::env::temp_dir().join(format!("shop-dashboard-rules-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rules: Vec<Value> = all_queries
        .iter()
        .enumerate()
        .map(|(n, q)| {
            let expr = q.replace("$__rate_interval", "1m").replace("$service", ".*");
            serde_json::json!({"record": format!("dashboard:query_{n}"), "expr": expr})
        })
        .collect();
    let file = dir.join("dashboards.rules.yml");
    std::fs::write(&file, serde_json::json!({"groups": [{"name": "dashboards", "rules": rules}]}).to_string()).unwrap();
    let output = Command::new("promtool").args(["check", "rules"]).arg(&file).output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        output.status.success(),
        "promtool rejects a dashboard query: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
