#!/usr/bin/env bash
# Side-by-side cost of `sentinel load --url` and oha at fixed rates against Debian's nginx on
# loopback (one worker process, a 2-byte body), with the same requests in flight and oha's
# latency correction, so that both report latency from each request's due time. For each rate
# and round it runs both for the same duration and prints the CPU time of the whole process
# (user + sys), the achieved rate and the p99 latency each one reported.
#
#   scripts/bench-vs-oha.sh [RATES] [SECONDS] [IN_FLIGHT] [ROUNDS] [PROTOCOL]
#   scripts/bench-vs-oha.sh "20000 40000 60000" 10 64 2
#   scripts/bench-vs-oha.sh 20000 10 64 2 https
#
# PROTOCOL is `http` (HTTP/1.1, the default: one connection per request in flight), `https`
# (the same over TLS, nginx with a certificate from a throwaway CA that both tools are told to
# trust) or `h2` (HTTP/2 over TLS, agreed by ALPN: H2_CONNECTIONS connections, 4 by default,
# sharing the requests in flight as streams).
#
# Needs nginx, oha (`cargo install oha`), python3 and, over TLS, openssl; builds sentinel in the release profile
# unless SENTINEL names a binary. CPU time is robust to other work on the machine; latency is
# not, so say what else was running (`uptime`) when quoting the figures.
set -euo pipefail
cd "$(dirname "$0")/.."

rates=${1:-"20000 40000 60000"}
seconds=${2:-10}
in_flight=${3:-64}
rounds=${4:-2}
protocol=${5:-http}
h2_connections=${H2_CONNECTIONS:-4}
case $protocol in
    http | https | h2) ;;
    *)
        echo "bench-vs-oha: PROTOCOL is http, https or h2, not $protocol" >&2
        exit 2
        ;;
esac

for tool in nginx oha python3; do
    command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || {
        echo "bench-vs-oha: $tool is needed" >&2
        exit 2
    }
done
if [ -z "${SENTINEL:-}" ]; then
    cargo build --release -p sentinel --quiet
    SENTINEL=$PWD/target/release/sentinel
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

dir=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
listen="listen 127.0.0.1:$port"
scheme=http
sentinel_flags=(--workers "$in_flight")
oha_flags=()
oha_connections=$in_flight
tls_files=
if [ "$protocol" != http ]; then
    # A throwaway CA and a certificate for 127.0.0.1 signed by it (rustls, rightly, refuses a
    # CA certificate as the server's own).
    openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=bench-ca \
        -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "$dir/key.pem" \
        -out "$dir/server.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >"$dir/server.ext"
    openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
        -CAcreateserial -days 1 -extfile "$dir/server.ext" -out "$dir/cert.pem" 2>/dev/null
    scheme=https
    listen="$listen ssl"
    tls_files=" ssl_certificate $dir/cert.pem; ssl_certificate_key $dir/key.pem;"
    sentinel_flags+=(--cacert "$dir/ca.pem")
    oha_flags+=(--cacert "$dir/ca.pem")
fi
if [ "$protocol" = h2 ]; then
    listen="$listen http2"
    sentinel_flags+=(--http2 --connections "$h2_connections")
    oha_flags+=(--http2 -p $((in_flight / h2_connections)))
    oha_connections=$h2_connections
fi
listen="$listen;$tls_files"
oha_flags+=(-c "$oha_connections")
cat >"$dir/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 100000000;
    server {
        $listen
        location / { return 200 "ok"; }
    }
}
EOF
"$nginx_bin" -p "$dir" -c "$dir/nginx.conf" &
nginx_pid=$!
trap 'kill "$nginx_pid" 2>/dev/null || true; wait "$nginx_pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 1 50); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null && break
    sleep 0.1
done
url="$scheme://127.0.0.1:$port/"

# cpu_of COMMAND...: runs COMMAND with its stdout in $dir/out and prints its user+sys seconds.
cpu_of() {
    local TIMEFORMAT="%U %S"
    local times
    times=$( { time "$@" >"$dir/out" 2>/dev/null; } 2>&1 )
    python3 -c "import sys; print(f'{sum(map(float, sys.argv[1:])):.2f}')" $times
}

printf '%-10s %-10s %8s %10s %9s\n' rate tool cpu_s "rate/s" "p99_ms"
for rate in $rates; do
    for round in $(seq 1 "$rounds"); do
        cpu=$(cpu_of "$SENTINEL" load --url "$url" --rate "$rate" --duration "${seconds}s" \
            "${sentinel_flags[@]}" --json)
        python3 - "$rate" "$cpu" "$dir/out" <<'PY'
import json, sys
rate, cpu, path = sys.argv[1], sys.argv[2], sys.argv[3]
v = json.load(open(path))
print(f"{rate:<10} {'sentinel':<10} {cpu:>8} {v['send_rate']:>10.0f} {v['latency_ms']['p99']:>9.2f}")
PY
        cpu=$(cpu_of oha -z "${seconds}s" -q "$rate" "${oha_flags[@]}" --latency-correction \
            --no-tui --output-format json "$url")
        python3 - "$rate" "$cpu" "$dir/out" <<'PY'
import json, sys
rate, cpu, path = sys.argv[1], sys.argv[2], sys.argv[3]
v = json.load(open(path))
p99 = v["latencyPercentiles"]["p99"] * 1e3
print(f"{rate:<10} {'oha':<10} {cpu:>8} {v['summary']['requestsPerSec']:>10.0f} {p99:>9.2f}")
PY
    done
done
echo "$protocol, $in_flight in flight; load: $(uptime)"
