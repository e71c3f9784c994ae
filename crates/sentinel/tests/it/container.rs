//! The container image, built and run with Debian's buildah and podman (scripts/test.sh installs
//! them). No base image can be pulled here, so the image under test is the repository's
//! `Containerfile` with its build stage and base image replaced: `FROM scratch` with the binary
//! under test and the shared libraries it links. Everything the final stage of the
//! `Containerfile` says (user, entrypoint, environment, labels) is taken from it unchanged, so
//! the image's configuration is what users get.
//!
//! Where podman cannot run containers on the machine, the test says so and runs the binary from
//! the image's own mounted filesystem instead, as the image's user: it never passes quietly.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sentinel_testkit::TestCertificates;

use crate::bin::{SENTINEL, stderr, stdout};

/// The repository's root.
fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The final stage of `containerfile`, with continuation lines joined and runs of blanks made
/// one: every instruction after
/// the last `FROM` except the `COPY --from` of the build stage's output.
fn final_stage(containerfile: &str) -> Vec<String> {
    let joined = containerfile.replace("\\\n", " ");
    let instructions: Vec<&str> = joined
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect();
    let last_from = instructions
        .iter()
        .rposition(|line| line.starts_with("FROM "))
        .expect("the Containerfile has a FROM");
    instructions[last_from + 1..]
        .iter()
        .filter(|line| !line.starts_with("COPY --from="))
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// A build context: `rootfs/` holds the binary at the path the `Containerfile` installs it to,
/// the libraries and loader it links, the CA bundle, and the image's user in `/etc/passwd`.
fn context(dir: &Path, instructions: &[String]) -> PathBuf {
    let rootfs = dir.join("rootfs");
    let install = |from: &Path, to: &str| {
        let target = rootfs.join(to.trim_start_matches('/'));
        std::fs::create_dir_all(target.parent().expect("a parent")).expect("mkdir");
        std::fs::copy(from, &target).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
    };
    install(Path::new(SENTINEL), "/usr/local/bin/sentinel");
    let ldd = Command::new("ldd")
        .arg(SENTINEL)
        .output()
        .expect("ldd runs");
    for library in stdout(&ldd)
        .split_whitespace()
        .filter(|word| word.starts_with('/'))
    {
        let resolved = std::fs::canonicalize(library).expect("the library exists");
        install(&resolved, library);
    }
    install(
        Path::new("/etc/ssl/certs/ca-certificates.crt"),
        "/etc/ssl/certs/ca-certificates.crt",
    );
    std::fs::write(
        rootfs.join("etc/passwd"),
        "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n",
    )
    .expect("passwd");
    let containerfile = dir.join("Containerfile");
    let mut text = "FROM scratch\nCOPY rootfs/ /\n".to_owned();
    for instruction in instructions {
        text.push_str(instruction);
        text.push('\n');
    }
    std::fs::write(&containerfile, text).expect("Containerfile");
    containerfile
}

/// Runs `program ARGS`, failing the test with its output if it fails.
fn run(program: &str, args: &[&str]) -> Output {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("{program} cannot run ({e}): scripts/test.sh installs buildah and podman")
        });
    assert!(
        output.status.success(),
        "{program} {args:?} failed:\n{}{}",
        stdout(&output),
        stderr(&output)
    );
    output
}

/// Removes the image when the test ends, however it ends.
struct Image(String);

impl Drop for Image {
    fn drop(&mut self) {
        let _ = Command::new("buildah")
            .args(["rmi", "-f", &self.0])
            .output();
    }
}

/// How sentinel is run inside the image: by podman, or from the image's mounted filesystem.
enum Runner {
    Podman(Vec<String>),
    Mounted(PathBuf),
}

impl Runner {
    /// podman's own way if it can run a container here, else from the mounted image, saying why.
    fn find(image: &str) -> Runner {
        // A sandbox may refuse podman's default limits and cgroup setup; these options ask for
        // nothing the image needs, and runc copes with hybrid cgroups where crun does not.
        let base = [
            "run",
            "--rm",
            "--read-only",
            "--network=none",
            "--ulimit=nofile=1024:1024",
            "--ulimit=nproc=1024:1024",
        ];
        let mut failures = Vec::new();
        for runtime in [None, Some("runc")] {
            let mut args: Vec<String> = Vec::new();
            if let Some(runtime) = runtime {
                args.extend(["--runtime".to_owned(), runtime.to_owned()]);
            }
            args.extend(base.iter().map(|&arg| arg.to_owned()));
            let mut probe = args.clone();
            probe.extend([image.to_owned(), "--version".to_owned()]);
            match Command::new("podman").args(&probe).output() {
                Ok(output) if output.status.success() => return Runner::Podman(args),
                Ok(output) => failures.push(stderr(&output).trim().to_owned()),
                Err(error) => failures.push(error.to_string()),
            }
        }
        eprintln!(
            "podman cannot run containers on this machine ({}); running the image's binary from \
             its mounted filesystem instead",
            failures.join("; ")
        );
        let mounted = run("podman", &["image", "mount", image]);
        Runner::Mounted(PathBuf::from(stdout(&mounted).trim()))
    }

    /// `sentinel ARGS` in the image as its user, with `config` mounted read-only at `/config`.
    fn sentinel(&self, image: &str, config: &Path, args: &[&str]) -> Output {
        let output = match self {
            Runner::Podman(options) => {
                let volume = format!("--volume={}:/config:ro", config.display());
                Command::new("podman")
                    .args(options)
                    .arg(volume)
                    .arg(image)
                    .args(args)
                    .output()
            }
            Runner::Mounted(root) => {
                let config_in_root = root.join("config");
                let _ = std::fs::create_dir_all(&config_in_root);
                run(
                    "mount",
                    &[
                        "--bind",
                        &config.display().to_string(),
                        &config_in_root.display().to_string(),
                    ],
                );
                let output = Command::new("chroot")
                    .arg("--userspec=65532:65532")
                    .arg(root)
                    .arg("/usr/local/bin/sentinel")
                    .args(args)
                    .output();
                let _ = Command::new("umount").arg(&config_in_root).output();
                output
            }
        };
        output.expect("the container runs")
    }
}

#[test]
fn the_image_runs_as_its_user_and_checks_a_server_configuration() {
    let dir = tempfile::tempdir().expect("temp dir");
    let containerfile =
        std::fs::read_to_string(repository().join("Containerfile")).expect("the Containerfile");
    let instructions = final_stage(&containerfile);
    let build = context(dir.path(), &instructions);
    let image = Image(format!("localhost/sentinel-test:{}", std::process::id()));
    let context_dir = dir.path().display().to_string();
    run(
        "buildah",
        &[
            "bud",
            "--quiet",
            "--layers=false",
            "-t",
            &image.0,
            "-f",
            &build.display().to_string(),
            &context_dir,
        ],
    );

    // The configuration users get: the image's user, entrypoint and labels.
    let inspected = run("buildah", &["inspect", "--type", "image", &image.0]);
    let config: serde_json::Value =
        serde_json::from_slice(&inspected.stdout).expect("buildah inspect prints JSON");
    let oci = &config["OCIv1"]["config"];
    assert_eq!(oci["User"], "65532:65532", "{oci}");
    assert_eq!(oci["Entrypoint"], serde_json::json!(["sentinel"]), "{oci}");
    let labels = &oci["Labels"];
    for label in ["source", "version", "licenses"] {
        let key = format!("org.opencontainers.image.{label}");
        assert!(labels[&key].is_string(), "label {key} missing: {labels}");
    }
    assert_eq!(labels["org.opencontainers.image.licenses"], "Apache-2.0");

    // It runs: on a read-only root filesystem as uid 65532, its version is the binary's, and it
    // checks a TLS server configuration mounted into it.
    let runner = Runner::find(&image.0);
    let version = runner.sentinel(&image.0, dir.path(), &["--version"]);
    assert!(version.status.success(), "{}", stderr(&version));
    let expected = format!("sentinel {}", env!("CARGO_PKG_VERSION"));
    assert_eq!(stdout(&version).trim(), expected);
    assert_eq!(
        labels["org.opencontainers.image.version"],
        env!("CARGO_PKG_VERSION"),
        "the Containerfile's VERSION must be the crate's"
    );

    let certificates = TestCertificates::create(dir.path());
    let file_name = |path: &Path| {
        path.file_name()
            .expect("a name")
            .to_string_lossy()
            .into_owned()
    };
    std::fs::write(
        dir.path().join("server.yaml"),
        format!(
            "listen: 0.0.0.0:8443\ntls:\n  cert: /config/{}\n  key: /config/{}\n\
             audience: sentinel.example.com\ndecision_log: \"-\"\nprofiles:\n  prod:\n    \
             role_arn: arn:aws:iam::123456789012:role/prod\n",
            file_name(&certificates.cert),
            file_name(&certificates.key)
        ),
    )
    .expect("config");
    // The key must be readable by the image's user, as a mounted Kubernetes secret is.
    for file in [
        &certificates.cert,
        &certificates.key,
        &dir.path().join("server.yaml"),
    ] {
        std::fs::set_permissions(file, std::os::unix::fs::PermissionsExt::from_mode(0o644))
            .expect("chmod");
    }
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    let check = runner.sentinel(
        &image.0,
        dir.path(),
        &["server", "--check", "--config", "/config/server.yaml"],
    );
    assert!(
        check.status.success(),
        "{}{}",
        stdout(&check),
        stderr(&check)
    );
    assert_eq!(stdout(&check).trim(), "/config/server.yaml: ok");
}

#[test]
fn the_final_stage_is_read_from_the_containerfile() {
    let stage = final_stage(
        "FROM a AS build\nRUN x \\\n  y\nFROM b\nARG V=1\nLABEL k=\"v\" \\\n  l=\"w\"\n\
         COPY --from=build /out /usr\nUSER 1:1\nENTRYPOINT [\"s\"]\n",
    );
    assert_eq!(
        stage,
        [
            "ARG V=1",
            "LABEL k=\"v\" l=\"w\"",
            "USER 1:1",
            "ENTRYPOINT [\"s\"]"
        ]
    );
}
