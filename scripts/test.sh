#!/usr/bin/env bash
# Runs every test from a clean clone: installs the moto AWS emulator and the real AWS clients
# (boto3, the AWS CLI) into .venv, starts moto on 127.0.0.1, runs the whole test suite, the load
# scenarios included, and stops moto again, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
venv=$root/.venv

if ! command -v cargo-nextest >/dev/null 2>&1; then
    echo "==> installing cargo-nextest"
    cargo install --locked cargo-nextest
fi

if ! "$venv/bin/python" -c 'import moto, boto3, awscli' 2>/dev/null; then
    echo "==> installing the test requirements into .venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/test-requirements.txt
fi

port=$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p target
echo "==> starting moto on 127.0.0.1:$port (log: target/moto.log)"
MOTO_ENABLE_RECORDING=True MOTO_RECORDER_FILEPATH="$root/target/moto_recording" \
    "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >target/moto.log 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    if "$venv/bin/python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/data.json', timeout=1)" 2>/dev/null; then
        break
    fi
    if ! kill -0 "$moto_pid" 2>/dev/null; then
        echo "moto did not start:" >&2
        cat target/moto.log >&2
        exit 1
    fi
    sleep 0.2
done

export SENTINEL_TEST_MOTO_URL="http://127.0.0.1:$port"
export SENTINEL_TEST_PYTHON="$venv/bin/python"
export PATH="$venv/bin:$PATH"

# One optimised build (the `ci` profile: release plus debug assertions) serves every phase.
nextest() { cargo nextest run --workspace --all-features --cargo-profile ci --no-fail-fast "$@"; }
echo "==> unit and integration tests"
nextest -E 'not (binary_id(/moto/) | test(/timing::/))'
echo "==> tests against the AWS emulator, one at a time (each resets it)"
nextest -E 'binary_id(/moto/)' -j 1
echo "==> timing-sensitive tests and load scenarios, one at a time"
nextest -E 'test(/timing::/)' -j 1
echo "==> doc tests"
cargo test --workspace --doc --profile ci --quiet
