#!/usr/bin/env bash
# Scale-out on loopback (docs/tools.md, "fer-serve", "Running behind nginx"):
# three fer-serve processes behind nginx as the load balancer, nginx run as
# this user from a config, pid file, logs and temporary folders in a
# temporary directory. Requests through nginx are answered, equal to a
# backend's own answer, and spread over all three (each backend's access log
# shows its share); with one backend killed every request is still answered
# by the other two. Skips with a message when nginx is missing.
set -u
BUILD=${BUILD:-build}
BIN=$BUILD/bin/fer-serve
py=/usr/bin/python3
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ ! -x "$NGINX" ]; then
    echo "scaleout.sh: nginx missing (apt-get install nginx, or scripts/install-deps); skipped"
    exit 0
fi
tmp=$(mktemp -d /tmp/scaleout-sh.XXXXXX)
pids=() nginx_pid=
cleanup() {
    [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    for p in "${pids[@]}"; do # the backends drain and stop
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
fail() { echo "scaleout.sh: FAIL: $*"; fails=$((fails + 1)); }
unset SPOTIFY_CLIENT_ID SPOTIFY_CLIENT_SECRET FER_DATA_DIR
N=3

# ------------------------------------------------------------ the backends
ports=()
for i in $(seq "$N"); do
    # started from a subshell, so that killing one below is no job of this
    # shell's (which would print a "Killed" line)
    ("$BIN" --port 0 --threads 1 2>"$tmp/backend$i.log" & echo $! >"$tmp/backend$i.pid")
    pids+=("$(cat "$tmp/backend$i.pid")")
done
for i in $(seq "$N"); do
    for _ in $(seq 300); do
        grep -q 'listening on' "$tmp/backend$i.log" && break
        kill -0 "${pids[i - 1]}" 2>/dev/null || break
        sleep 0.1
    done
    p=$(sed -n 's|^fer-serve: listening on http://127\.0\.0\.1:\([0-9]*\)/ .*|\1|p' "$tmp/backend$i.log")
    [ -n "$p" ] || { fail "backend $i did not start: $(head -c 300 "$tmp/backend$i.log")"; exit 1; }
    ports+=("$p")
done

# ------------------------------------------------------------ nginx
# A free port for nginx (the kernel's choice, released for it).
lb=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
user_line=
[ "$(id -u)" -eq 0 ] && user_line="user $(id -un) $(id -gn);" # else workers stay this user anyway
{
    echo "$user_line"
    echo "daemon off;"
    echo "worker_processes 1;"
    echo "pid $tmp/nginx.pid;"
    echo "error_log $tmp/nginx-error.log notice;"
    echo "events { worker_connections 256; }"
    echo "http {"
    echo "    access_log $tmp/nginx-access.log;"
    for t in client_body proxy fastcgi uwsgi scgi; do echo "    ${t}_temp_path $tmp/$t;"; done
    echo "    upstream fer {"
    for p in "${ports[@]}"; do echo "        server 127.0.0.1:$p max_fails=1 fail_timeout=30s;"; done
    echo "        keepalive 8;"
    echo "    }"
    echo "    server {"
    echo "        listen 127.0.0.1:$lb;"
    echo "        client_max_body_size 16m;"
    echo "        client_body_timeout 10s;"
    echo "        location / {"
    echo "            proxy_pass http://fer;"
    echo "            proxy_http_version 1.1;"
    echo "            proxy_set_header Connection \"\";"
    echo "            proxy_connect_timeout 2s;"
    echo "            proxy_read_timeout 30s;"
    echo "            proxy_next_upstream error timeout http_503 non_idempotent;"
    echo "        }"
    echo "    }"
    echo "}"
} >"$tmp/nginx.conf"
"$NGINX" -t -q -p "$tmp" -e "$tmp/nginx-error.log" -c "$tmp/nginx.conf" 2>"$tmp/nginx-t.log" ||
    { fail "nginx refuses the config: $(cat "$tmp/nginx-t.log")"; exit 1; }
"$NGINX" -p "$tmp" -e "$tmp/nginx-error.log" -c "$tmp/nginx.conf" 2>>"$tmp/nginx-error.log" &
nginx_pid=$!

# ------------------------------------------------------------ requests
# through nginx: N * 10 recommendations, each answered 200 and equal to the
# first backend's own answer to the same request; then backend 1 is killed
# and 12 more must all be answered.
N="$N" "$py" - "$lb" "${ports[0]}" "${pids[0]}" "$tmp" <<'PY'
import http.client, json, os, signal, sys, time
lb, direct, victim, tmp = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
fails = 0

def post(port, body):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("POST", "/v1/recommend", json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data

def check(ok, what):
    global fails
    if not ok:
        print(f"scaleout.sh: FAIL: {what}")
        fails += 1

for _ in range(100):  # nginx listening
    try:
        c = http.client.HTTPConnection("127.0.0.1", lb, timeout=2)
        c.request("GET", "/v1/health")
        if c.getresponse().status == 200:
            break
    except OSError:
        pass
    time.sleep(0.1)
else:
    print("scaleout.sh: FAIL: nginx did not answer /v1/health")
    sys.exit(1)

emotions = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
n = int(os.environ.get("N", "3")) * 10
t0 = time.monotonic()
for i in range(n):
    body = {"emotion": emotions[i % 7], "bpm": 60 + i, "limit": 5}
    s, data = post(lb, body)
    check(s == 200, f"request {i} through nginx: {s} {data[:200]!r}")
    if i < 7:  # stateless: any backend gives the same answer
        s2, data2 = post(direct, body)
        check(s2 == 200 and json.loads(data2) == json.loads(data),
              f"request {i}: nginx's answer differs from a backend's own")
dt = time.monotonic() - t0
print(f"scaleout.sh: {n} recommendations through nginx (and 7 direct) in {dt:.2f} s")
os.kill(victim, signal.SIGKILL)
import socket
for _ in range(200):  # until its port refuses connections: the kill has completed
    try:
        socket.create_connection(("127.0.0.1", direct), timeout=1).close()
        time.sleep(0.05)
    except OSError:
        break
for i in range(12):
    s, data = post(lb, {"emotion": emotions[i % 7], "limit": 3})
    check(s == 200, f"request {i} after a backend was killed: {s} {data[:200]!r}")
sys.exit(1 if fails else 0)
PY
[ $? -eq 0 ] || fail "requests through nginx"

# Each backend answered its share before the kill (round robin: about 10 each,
# plus the direct ones for backend 1); after it, the two left took all 12.
counts=()
for i in $(seq "$N"); do
    counts+=("$(grep -c ' POST /v1/recommend 200 ' "$tmp/backend$i.log")")
done
for i in $(seq "$N"); do
    [ "${counts[i - 1]}" -ge 5 ] || fail "backend $i answered ${counts[i - 1]} requests: not spread (${counts[*]})"
done
after=$((counts[1] + counts[2]))
[ "$after" -ge 26 ] || fail "backends 2 and 3 answered $after requests; expected their share plus the 12 after the kill"
echo "scaleout.sh: POST /v1/recommend answered by the backends: ${counts[*]} (backend 1 killed after the first $((N * 10)))"
grep -q '\[alert\]\|\[emerg\]' "$tmp/nginx-error.log" && fail "nginx: $(grep '\[alert\]\|\[emerg\]' "$tmp/nginx-error.log" | head -3)"
[ "$(grep -c '" 200 ' "$tmp/nginx-access.log")" -ge $((N * 10 + 12)) ] || fail "nginx's access log lacks requests"

[ "$fails" -eq 0 ] && echo "scaleout.sh: all checks passed"
[ "$fails" -eq 0 ]
