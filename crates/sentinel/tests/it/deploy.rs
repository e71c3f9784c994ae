//! The Kubernetes manifests in `deploy/kubernetes/`: valid against the Kubernetes schema (offline,
//! with the `kubernetes-validate` package and the schemas it ships, which scripts/test.sh
//! installs into .venv), and consistent with each other and with the binary: every port, path,
//! volume, secret and flag one names exists where it points, and the server's configuration
//! passes `sentinel server --check`.

use std::path::{Path, PathBuf};
use std::process::Command;

use sentinel_testkit::TestCertificates;
use serde_json::Value;

use crate::bin::{sentinel, stderr, stdout};

/// The image every manifest runs, as docs/server.md tells users to tag it.
const IMAGE: &str = "registry.example.com/sentinel:0.1.0";

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn manifest_path(name: &str) -> PathBuf {
    repository().join("deploy/kubernetes").join(name)
}

/// Every document of the manifest `name`.
fn documents(name: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(manifest_path(name)).unwrap();
    serde_saphyr::from_multiple(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The one document of `kind` in `documents`.
fn of_kind<'a>(documents: &'a [Value], kind: &str) -> &'a Value {
    let found: Vec<&Value> = documents.iter().filter(|d| d["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "one {kind} expected");
    found[0]
}

/// Runs the schema validator on `files`.
fn validate(files: &[PathBuf]) -> std::process::Output {
    let python = std::env::var("SENTINEL_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    Command::new(&python)
        .args(["-m", "kubernetes_validate", "--strict", "--no-warn"])
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("{python}: {e}"))
}

#[test]
fn every_manifest_validates_against_the_kubernetes_schema() {
    let files = ["sentinel-server.yaml", "load-job.yaml"].map(manifest_path);
    let checked = validate(&files);
    assert!(
        checked.status.success(),
        "{}{}\n(run the tests with scripts/test.sh, which installs kubernetes-validate)",
        stdout(&checked),
        stderr(&checked)
    );
    // The validator does refuse what the schema does not allow: a field no Deployment has.
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.yaml");
    let text = std::fs::read_to_string(&files[0]).unwrap();
    let with_typo = text.replacen("readinessProbe:", "readinesProbe:", 1);
    assert_ne!(text, with_typo);
    std::fs::write(&broken, with_typo).unwrap();
    let refused = validate(&[broken]);
    assert!(!refused.status.success(), "a misspelt field passed");
    assert!(
        stdout(&refused).contains("readinesProbe"),
        "{}",
        stdout(&refused)
    );
}

/// The server manifest's parts, and its configuration file.
struct Server {
    documents: Vec<Value>,
    config_text: String,
    config: Value,
}

impl Server {
    fn read() -> Self {
        let documents = documents("sentinel-server.yaml");
        let config_text = of_kind(&documents, "ConfigMap")["data"]["server.yaml"]
            .as_str()
            .expect("the ConfigMap holds server.yaml")
            .to_owned();
        let config = serde_saphyr::from_str(&config_text).expect("server.yaml is YAML");
        Self {
            documents,
            config_text,
            config,
        }
    }

    fn deployment(&self) -> &Value {
        of_kind(&self.documents, "Deployment")
    }

    fn pod(&self) -> &Value {
        &self.deployment()["spec"]["template"]
    }

    fn container(&self) -> &Value {
        &self.pod()["spec"]["containers"][0]
    }

    /// The container port named `name`.
    fn port(&self, name: &str) -> u64 {
        self.container()["ports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|port| port["name"] == name)
            .unwrap_or_else(|| panic!("no container port {name}"))["containerPort"]
            .as_u64()
            .unwrap()
    }

    /// Where the volume `name` is mounted in the container, and what it holds.
    fn volume(&self, name: &str) -> (String, &Value) {
        let mount = self.container()["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|mount| mount["name"] == name)
            .unwrap_or_else(|| panic!("volume {name} is not mounted"));
        let volume = self.pod()["spec"]["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|volume| volume["name"] == name)
            .unwrap_or_else(|| panic!("no volume {name}"));
        (mount["mountPath"].as_str().unwrap().to_owned(), volume)
    }
}

/// The port of a `host:port` address.
fn port_of(address: &Value) -> u64 {
    let address = address.as_str().expect("an address");
    address.rsplit_once(':').unwrap().1.parse().unwrap()
}

#[test]
fn the_servers_ports_paths_and_selectors_agree() {
    let server = Server::read();
    let https = server.port("https");
    let admin = server.port("admin");
    assert_eq!(port_of(&server.config["listen"]), https);
    assert_eq!(port_of(&server.config["admin_listen"]), admin);

    for probe in ["readinessProbe", "livenessProbe"] {
        let get = &server.container()[probe]["httpGet"];
        assert_eq!(get["path"], "/healthz", "{probe}");
        assert_eq!(
            get["port"], "admin",
            "{probe}: probes go to the admin listener"
        );
        assert_eq!(
            get["scheme"], "HTTP",
            "{probe}: the admin listener is plain HTTP"
        );
    }
    let scrape = &server.pod()["metadata"]["annotations"];
    assert_eq!(scrape["prometheus.io/port"], admin.to_string());
    assert_eq!(scrape["prometheus.io/path"], "/metrics");
    assert_eq!(scrape["prometheus.io/scheme"], "http");

    let service = of_kind(&server.documents, "Service");
    let service_port = &service["spec"]["ports"][0];
    assert_eq!(service_port["port"], https);
    server.port(service_port["targetPort"].as_str().unwrap());
    let network = of_kind(&server.documents, "NetworkPolicy");
    for rule in network["spec"]["ingress"].as_array().unwrap() {
        for port in rule["ports"].as_array().unwrap() {
            server.port(port["port"].as_str().expect("ports by name"));
        }
    }

    let labels = &server.deployment()["spec"]["selector"]["matchLabels"];
    assert_eq!(&server.pod()["metadata"]["labels"], labels);
    for kind in ["Service", "PodDisruptionBudget", "NetworkPolicy"] {
        let selector = &of_kind(&server.documents, kind)["spec"];
        let selector = selector
            .get("selector")
            .or(selector.get("podSelector"))
            .unwrap();
        let selector = selector.get("matchLabels").unwrap_or(selector);
        assert_eq!(selector, labels, "{kind} selects the server's pods");
    }
    let hpa = of_kind(&server.documents, "HorizontalPodAutoscaler");
    assert_eq!(
        hpa["spec"]["scaleTargetRef"]["name"],
        server.deployment()["metadata"]["name"]
    );
    assert!(
        server.deployment()["spec"].get("replicas").is_none(),
        "the autoscaler owns the replica count"
    );
    assert!(server.container()["resources"]["requests"]["cpu"].is_string());
    assert!(server.container()["resources"]["limits"]["memory"].is_string());
    assert!(server.pod()["spec"]["affinity"]["podAntiAffinity"].is_object());
    assert_eq!(
        server.pod()["spec"]["serviceAccountName"],
        of_kind(&server.documents, "ServiceAccount")["metadata"]["name"]
    );
}

#[test]
fn the_servers_files_are_mounted_where_its_configuration_reads_them() {
    let server = Server::read();
    let args: Vec<&str> = server.container()["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|arg| arg.as_str().unwrap())
        .collect();
    assert_eq!(args[0], "server");
    let config_at = args.iter().position(|arg| *arg == "--config").unwrap() + 1;
    let (config_mount, config_volume) = server.volume("config");
    assert_eq!(args[config_at], config_mount);
    assert_eq!(
        config_volume["configMap"]["name"],
        of_kind(&server.documents, "ConfigMap")["metadata"]["name"]
    );
    let (tls_mount, tls_volume) = server.volume("tls");
    for file in ["cert", "key"] {
        let path = server.config["tls"][file].as_str().unwrap();
        assert!(
            path.starts_with(&format!("{tls_mount}/")),
            "{path} is not in {tls_mount}"
        );
    }
    let secret = tls_volume["secret"]["secretName"].as_str().unwrap();
    let text = std::fs::read_to_string(manifest_path("sentinel-server.yaml")).unwrap();
    assert!(
        text.contains(&format!("create secret tls {secret} ")),
        "the comment says how to create the Secret {secret}"
    );
    let help = stdout(&sentinel(&["server", "--help"]));
    for flag in args.iter().filter(|arg| arg.starts_with("--")) {
        assert!(
            help.contains(&format!("{flag} ")),
            "{flag} is not a server flag"
        );
    }
    assert_eq!(server.container()["image"], IMAGE);
}

#[test]
fn the_servers_configuration_passes_the_servers_own_check() {
    let server = Server::read();
    let dir = tempfile::tempdir().unwrap();
    let certificates = TestCertificates::create(dir.path());
    // The Secret's files, where the configuration reads them, are this test's certificates.
    let config = server
        .config_text
        .replace(
            server.config["tls"]["cert"].as_str().unwrap(),
            certificates.cert.to_str().unwrap(),
        )
        .replace(
            server.config["tls"]["key"].as_str().unwrap(),
            certificates.key.to_str().unwrap(),
        );
    let path = dir.path().join("server.yaml");
    std::fs::write(&path, config).unwrap();
    let checked = sentinel(&["server", "--check", "--config", path.to_str().unwrap()]);
    assert!(checked.status.success(), "{}", stderr(&checked));
    assert!(stdout(&checked).ends_with(": ok\n"), "{}", stdout(&checked));
}

#[test]
fn the_load_job_loads_the_servers_health_over_tls_with_its_ca() {
    let server = Server::read();
    let jobs = documents("load-job.yaml");
    let job = of_kind(&jobs, "Job");
    assert_eq!(job["spec"]["completionMode"], "Indexed");
    let completions = &job["spec"]["completions"];
    assert_eq!(completions, &job["spec"]["parallelism"]);
    let pod = &job["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    assert_eq!(container["image"], IMAGE);
    assert!(
        container.get("command").is_none(),
        "the image has no shell: the entrypoint runs the args"
    );
    let env = |name: &str| -> String {
        container["env"]
            .as_array()
            .unwrap()
            .iter()
            .find(|var| var["name"] == name)
            .unwrap_or_else(|| panic!("{name} is not set"))["value"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        env("SEGMENTS"),
        completions.to_string(),
        "one segment per pod"
    );
    env("START_AT");
    let args: Vec<&str> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|arg| arg.as_str().unwrap())
        .collect();
    assert_eq!(args[0], "load");
    let flag = |name: &str| -> &str {
        args.iter()
            .find_map(|arg| arg.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name}=... in {args:?}"))
    };
    assert_eq!(
        flag("--segment-index"),
        "$(JOB_COMPLETION_INDEX)/$(SEGMENTS)"
    );
    assert_eq!(flag("--start-at"), "$(START_AT)");

    // The URL is the Service's name, its port and the path the server answers without a proof.
    let service = of_kind(&server.documents, "Service");
    let url = format!(
        "https://{}.{}.svc:{}/healthz",
        service["metadata"]["name"].as_str().unwrap(),
        service["metadata"]["namespace"].as_str().unwrap(),
        service["spec"]["ports"][0]["port"]
    );
    assert_eq!(flag("--url"), url);
    let manifest = std::fs::read_to_string(manifest_path("sentinel-server.yaml")).unwrap();
    let host = url.split('/').nth(2).unwrap().split(':').next().unwrap();
    assert!(
        manifest.contains(host),
        "the server's certificate comment names {host}"
    );
    // The CA comes from a mounted Secret that the comment says how to create.
    let cacert = flag("--cacert");
    let mount = container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|mount| cacert.starts_with(mount["mountPath"].as_str().unwrap()))
        .expect("the CA's directory is mounted");
    let volume = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|volume| volume["name"] == mount["name"])
        .expect("the mount's volume");
    let secret = volume["secret"]["secretName"].as_str().unwrap();
    let text = std::fs::read_to_string(manifest_path("load-job.yaml")).unwrap();
    assert!(
        text.contains(&format!("create secret generic {secret} ")),
        "the comment says how to create the Secret {secret}"
    );
    assert_eq!(
        job["metadata"]["namespace"],
        service["metadata"]["namespace"]
    );

    let help = stdout(&sentinel(&["load", "--help"]));
    for arg in args.iter().filter(|arg| arg.starts_with("--")) {
        let name = arg.split('=').next().unwrap();
        assert!(
            help.contains(&format!("{name} ")),
            "{name} is not a load flag"
        );
    }
}

#[test]
fn the_image_the_manifests_run_is_the_one_the_docs_build() {
    let docs = std::fs::read_to_string(repository().join("docs/server.md")).unwrap();
    assert!(docs.contains(IMAGE), "docs/server.md names {IMAGE}");
    let version = IMAGE.rsplit_once(':').unwrap().1;
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
    let containerfile = std::fs::read_to_string(repository().join("Containerfile")).unwrap();
    assert!(
        containerfile.contains(&format!("ARG VERSION={version}")),
        "the Containerfile labels the image {version}"
    );
}
