#!/usr/bin/env bash
# Runs every check and test from a clean clone: installs the moto AWS emulator, the real AWS
# clients (boto3, the AWS CLI) and the Kubernetes schema validator into .venv, checks the
# formatting, that no crate's modules depend on each other in a cycle, and clippy's lints, starts
# two moto instances on 127.0.0.1 (one that checks no signature, one that checks every signature
# and IAM decision), installs Debian's nginx (the load tests' real HTTP peer), chromium (the HTML
# load report is checked in it), Prometheus's promtool (the metrics are checked with it), and
# buildah, podman and runc (the container image is built and run) when missing, runs the whole
# test suite, the load scenarios included, and stops them again, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
venv=$root/.venv

if ! command -v cargo-nextest >/dev/null 2>&1; then
    echo "==> installing cargo-nextest"
    cargo install --locked cargo-nextest
fi

# apt_install COMMAND PACKAGE...: installs the first Debian package that installs, unless COMMAND
# is already there.
apt_install() {
    local command=$1
    shift
    if command -v "$command" >/dev/null 2>&1 || [ -x "/usr/sbin/$command" ]; then return 0; fi
    echo "==> installing $command"
    local sudo_cmd=""
    if [ "$(id -u)" -ne 0 ]; then sudo_cmd=sudo; fi
    $sudo_cmd apt-get update -qq
    for package in "$@"; do
        if DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "$package" >/dev/null; then
            return 0
        fi
    done
    echo "could not install $command" >&2
    return 1
}

# The load tests run against Debian's nginx where a real server's configuration gives the
# behaviour under test (closing idle keep-alive connections); the HTML load report is checked in
# a real browser, Debian's headless Chromium.
apt_install nginx nginx-light nginx
apt_install chromium chromium
# The server's /metrics is checked with Prometheus's own promtool.
apt_install promtool prometheus
# The container image is built and run with Debian's buildah and podman; runc runs containers
# where the sandbox's cgroups defeat podman's default runtime.
apt_install buildah buildah
apt_install podman podman
apt_install runc runc
export SENTINEL_TEST_CHROMIUM=chromium

if ! "$venv/bin/python" -c 'import moto, boto3, awscli, kubernetes_validate' 2>/dev/null; then
    echo "==> installing the test requirements into .venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/test-requirements.txt
fi

# The checks that need no test run, first, so that a red one fails fast: the formatting, no
# module cycle within any crate (the check proves first that it finds one), and no lint.
echo "==> formatting, module cycles and lints"
cargo fmt --all --check
"$venv/bin/python" scripts/module-cycles.py --self-test
"$venv/bin/python" scripts/module-cycles.py
cargo clippy --workspace --all-targets --all-features --quiet -- -D warnings

free_port() { "$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
mkdir -p target
pids=()
trap 'for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done' EXIT

# start_moto NAME PORT [VAR=VALUE...]: starts moto with recording on, waits until it answers.
start_moto() {
    local name=$1 port=$2
    shift 2
    echo "==> starting moto ($name) on 127.0.0.1:$port (log: target/$name.log)"
    env MOTO_ENABLE_RECORDING=True MOTO_RECORDER_FILEPATH="$root/target/${name}_recording" "$@" \
        "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"target/$name.log" 2>&1 &
    local pid=$!
    pids+=("$pid")
    for _ in $(seq 1 100); do
        if "$venv/bin/python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/data.json', timeout=1)" 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "moto ($name) did not start:" >&2
            cat "target/$name.log" >&2
            exit 1
        fi
        sleep 0.2
    done
}

port=$(free_port)
start_moto moto "$port"

# The second instance checks every signature and IAM decision after its first three actions,
# which make the administrator that the signature tests create their fixtures with.
auth_port=$(free_port)
start_moto moto-auth "$auth_port" INITIAL_NO_AUTH_ACTION_COUNT=3
admin=$("$venv/bin/python" - "http://127.0.0.1:$auth_port" <<'PY'
import json, sys, boto3
iam = boto3.client("iam", endpoint_url=sys.argv[1], region_name="us-east-1",
                   aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
iam.create_user(UserName="sentinel-test-admin")
key = iam.create_access_key(UserName="sentinel-test-admin")["AccessKey"]
iam.put_user_policy(UserName="sentinel-test-admin", PolicyName="all", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
print(key["AccessKeyId"] + ":" + key["SecretAccessKey"])
PY
)
export SENTINEL_TEST_MOTO_AUTH_URL="http://127.0.0.1:$auth_port"
export SENTINEL_TEST_MOTO_AUTH_ADMIN="$admin"

export SENTINEL_TEST_MOTO_URL="http://127.0.0.1:$port"
export SENTINEL_TEST_PYTHON="$venv/bin/python"
export PATH="$venv/bin:$PATH"

# One optimised build (the `ci` profile: release plus debug assertions) serves every phase. It is
# built first and its writes flushed to disk (`sync`), so that the timing phase, which runs next
# while the machine is quietest, measures the tests and not the kernel writing the build back.
build=(--workspace --all-features --cargo-profile ci)
nextest() { cargo nextest run "${build[@]}" --no-fail-fast "$@"; }
echo "==> building the tests"
cargo nextest run "${build[@]}" --no-run
sync
echo "==> timing-sensitive tests and load scenarios, one at a time"
nextest -E 'test(/timing::/)' -j 1
echo "==> unit and integration tests"
nextest -E 'not (test(/^moto_/) | test(/timing::/))'
echo "==> tests against the AWS emulator, one at a time (each resets it)"
nextest -E 'test(/^moto_/)' -j 1
echo "==> doc tests"
cargo test --workspace --doc --profile ci --quiet
