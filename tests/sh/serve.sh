#!/usr/bin/env bash
# fer-serve on loopback (docs/tools.md, "fer-serve"): its options, then a
# server on a free port (--port 0) with small limits, driven by
# tests/serve_api.py (happy paths equal to fer-predict's and fer-recommend's
# JSON, every error class, slow and truncated clients, a full queue, too many
# connections, SIGTERM draining), then its exit status and access log.
set -u
BUILD=${BUILD:-build}
BIN=$BUILD/bin/fer-serve
py=/usr/bin/python3
tmp=$(mktemp -d /tmp/serve-sh.XXXXXX)
pid=
spid= mock_pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; [ -n "$spid" ] && kill "$spid" 2>/dev/null
      [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null; rm -rf "$tmp"' EXIT
fails=0
fail() { echo "serve.sh: FAIL: $*"; fails=$((fails + 1)); }
unset SPOTIFY_CLIENT_ID SPOTIFY_CLIENT_SECRET FER_DATA_DIR
export FER_THREADS=2

# run NAME CMD...: output in $tmp/NAME.out / .err, status in $rc
run() {
    local name=$1
    shift
    "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
    rc=$?
}
one_error() {
    [ "$rc" -eq "$2" ] && [ "$(wc -l <"$tmp/$1.err")" -eq 1 ] && grep -qF -- "$3" "$tmp/$1.err" ||
        fail "$1: expected exit $2 and one line with '$3'; got $rc: $(head -c 300 "$tmp/$1.err")"
}

# ------------------------------------------------------------ options
run port "$BIN" --port 70000
one_error port 2 "fer-serve: --port '70000': expected an integer 0..65535"
run body "$BIN" --max-body 12Q
one_error body 2 "fer-serve: --max-body '12Q': expected a size 1K..1G"
run body-small "$BIN" --max-body 100
one_error body-small 2 "--max-body '100'"
run timeout "$BIN" --timeout 0
one_error timeout 2 "fer-serve: --timeout '0': expected an integer 1..3600"
run unknown "$BIN" --prot 8080
one_error unknown 2 "fer-serve: unknown option '--prot' (see --help)"
run operand "$BIN" extra
one_error operand 2 "fer-serve: unexpected argument 'extra' (see --help)"
run web "$BIN" --web "$tmp/no-such-dir"
one_error web 1 "fer-serve: no web page: $tmp/no-such-dir/index.html does not exist (pass --web DIR)"
run weights "$BIN" --weights "$tmp/none.safetensors" --port 0
one_error weights 1 "none.safetensors"
run host "$BIN" --host no.such.host.invalid --port 0
one_error host 1 "fer-serve: --host no.such.host.invalid:"

# ------------------------------------------------------------ the server
"$BIN" --port 0 --threads 2 --queue 2 --timeout 2 --max-body 2M --max-pixels 400000 \
    --max-connections 16 2>"$tmp/log" &
pid=$!
for _ in $(seq 300); do
    grep -q 'listening on' "$tmp/log" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
port=$(sed -n 's|^fer-serve: listening on http://127\.0\.0\.1:\([0-9]*\)/ .*|\1|p' "$tmp/log")
if [ -z "$port" ]; then
    fail "the server did not start: $(cat "$tmp/log")"
    exit 1
fi

# A second server on the same port: one clear line, exit 1.
run busy-port "$BIN" --port "$port"
one_error busy-port 1 "fer-serve: cannot listen on 127.0.0.1 port $port: Address already in use"

if ! "$py" tests/serve_api.py "$port" "$pid" "$BUILD" "$tmp"; then
    fail "tests/serve_api.py"
    kill -TERM "$pid" 2>/dev/null # it may have stopped before its own SIGTERM
fi

# serve_api.py ends with SIGTERM: the server drains and exits 0.
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then
    fail "the server still runs 10 s after SIGTERM"
    kill -KILL "$pid"
fi
wait "$pid"
rc=$?
pid=
[ "$rc" -eq 0 ] || fail "exit status $rc after SIGTERM (expected 0)"
tail -n 1 "$tmp/log" | grep -qx "fer-serve: stopped" || fail "no 'stopped' line: $(tail -n 3 "$tmp/log")"

# ------------------------------------------------------------ the access log
grep -Eq '^fer-serve: 127\.0\.0\.1 POST /v1/analyze 200 [0-9]+ B [0-9.]+ ms$' "$tmp/log" ||
    fail "no access log line for an analysis"
grep -Eq '^fer-serve: 127\.0\.0\.1 GET /v1/health 200 ' "$tmp/log" || fail "no access log line for health"
grep -Eq ' POST /v1/analyze 413 ' "$tmp/log" || fail "no access log line for a 413"
grep -q 'closed' "$tmp/log" || fail "the slow clients are not in the log"
! grep -q 'bpm=\|hr=70' "$tmp/log" || fail "the log shows query strings"
! grep -aq 'PNG\|IHDR' "$tmp/log" || fail "the log shows request bodies"
bad=$(grep -v '^fer-serve: ' "$tmp/log" | head -n 3)
[ -z "$bad" ] || fail "stderr lines without the program name: $bad"

# ------------------------------------------------------------ Spotify
# With credentials /v1/recommend answers from Spotify as fer-recommend does
# (tests/mock-spotify on loopback, a client a worker); when Spotify fails the
# catalogue answers (a line on stderr says why); with --source spotify a
# failure is a 502.
start_mock() { # SCENARIO: FER_SPOTIFY_*_URL point at a new mock
    stop_mock
    rm -f "$tmp/mock.fifo" "$tmp/mock.port"
    mkfifo "$tmp/mock.fifo"
    "$BUILD/tests/mock-spotify" "$1" 30 <"$tmp/mock.fifo" >"$tmp/mock.port" &
    mock_pid=$!
    exec 8>"$tmp/mock.fifo" # the mock exits when this closes
    for _ in $(seq 50); do [ -s "$tmp/mock.port" ] && break; sleep 0.1; done
    export FER_SPOTIFY_API_URL="http://127.0.0.1:$(head -1 "$tmp/mock.port")"
    export FER_SPOTIFY_ACCOUNTS_URL="$FER_SPOTIFY_API_URL"
}
stop_mock() {
    [ -n "$mock_pid" ] || return 0
    exec 8>&-
    kill "$mock_pid" 2>/dev/null
    wait "$mock_pid" 2>/dev/null
    mock_pid=
}
start_spotify_server() { # NAME ARGS...: sport, spid; the log in $tmp/NAME.log
    local name=$1
    shift
    "$BIN" --port 0 --threads 2 "$@" 2>"$tmp/$name.log" &
    spid=$!
    for _ in $(seq 300); do
        grep -q 'listening on' "$tmp/$name.log" && break
        kill -0 "$spid" 2>/dev/null || break
        sleep 0.1
    done
    sport=$(sed -n 's|^fer-serve: listening on http://127\.0\.0\.1:\([0-9]*\)/ .*|\1|p' "$tmp/$name.log")
    [ -n "$sport" ] || fail "$name: the server did not start: $(head -c 300 "$tmp/$name.log")"
}
stop_spotify_server() {
    kill -TERM "$spid" 2>/dev/null
    wait "$spid" 2>/dev/null
    spid=
}
recommend_post() { # PORT JSON: the status, then the body
    "$py" - "$1" "$2" <<'PY'
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=60)
c.request("POST", "/v1/recommend", sys.argv[2], {"Content-Type": "application/json"})
r = c.getresponse()
print(r.status)
print(r.read().decode())
PY
}
same_json() { # FILE_A FILE_B
    "$py" -c 'import json, sys; sys.exit(json.load(open(sys.argv[1])) != json.load(open(sys.argv[2])))' "$1" "$2"
}
source_is() { # FILE SOURCE
    "$py" -c 'import json, sys; sys.exit(json.load(open(sys.argv[1]))["source"] != sys.argv[2])' "$1" "$2"
}
if [ -x "$BUILD/tests/mock-spotify" ]; then
    export SPOTIFY_CLIENT_ID=test-id SPOTIFY_CLIENT_SECRET=test-secret
    for sc in ok:spotify-recommendations 403:spotify-search; do
        start_mock "${sc%%:*}"
        start_spotify_server "spotify-${sc%%:*}"
        grep -q 'songs from Spotify' "$tmp/spotify-${sc%%:*}.log" || fail "${sc%%:*}: the start line does not say Spotify"
        recommend_post "$sport" '{"emotion":"sad","intensity":0.8,"bpm":62,"limit":4,"genre":"jazz"}' >"$tmp/sp.out"
        sed -n 2p "$tmp/sp.out" >"$tmp/sp.json"
        "$BUILD/bin/fer-recommend" --emotion sad --intensity 0.8 --bpm 62 --limit 4 --genre jazz --json \
            >"$tmp/sp-tool.json" 2>/dev/null
        [ "$(head -1 "$tmp/sp.out")" = 200 ] && source_is "$tmp/sp.json" "${sc#*:}" ||
            fail "${sc%%:*}: /v1/recommend did not answer from ${sc#*:}: $(head -c 300 "$tmp/sp.out")"
        same_json "$tmp/sp.json" "$tmp/sp-tool.json" ||
            fail "${sc%%:*}: /v1/recommend differs from fer-recommend: $(head -c 300 "$tmp/sp.json")"
        stop_spotify_server
    done
    # Spotify refuses the credentials: the catalogue answers, as fer-recommend's does.
    start_mock badauth
    start_spotify_server spotify-fallback
    recommend_post "$sport" '{"emotion":"happy","limit":3}' >"$tmp/sp.out"
    sed -n 2p "$tmp/sp.out" >"$tmp/sp.json"
    "$BUILD/bin/fer-recommend" --emotion happy --limit 3 --json >"$tmp/sp-tool.json" 2>/dev/null
    [ "$(head -1 "$tmp/sp.out")" = 200 ] && source_is "$tmp/sp.json" offline &&
        same_json "$tmp/sp.json" "$tmp/sp-tool.json" ||
        fail "fallback: expected the offline answer of fer-recommend: $(head -c 300 "$tmp/sp.out")"
    grep -q '^fer-serve: Spotify: POST /api/token: HTTP 401.*; falling back to the offline catalogue$' \
        "$tmp/spotify-fallback.log" || fail "fallback: no line saying why: $(grep -v ' ms$' "$tmp/spotify-fallback.log" | head -c 300)"
    stop_spotify_server
    # --source spotify: no fallback, 502 with Spotify's reason
    start_spotify_server spotify-only --source spotify
    recommend_post "$sport" '{"emotion":"happy","limit":3}' >"$tmp/sp.out"
    [ "$(head -1 "$tmp/sp.out")" = 502 ] && grep -q '"error":"Spotify: POST /api/token: HTTP 401' "$tmp/sp.out" ||
        fail "--source spotify: expected 502: $(head -c 300 "$tmp/sp.out")"
    stop_spotify_server
    stop_mock
    ! grep -q 'test-secret\|dGVzdC1pZDp0ZXN0LXNlY3JldA' "$tmp"/spotify-*.log "$tmp/sp.out" ||
        fail "a log or an answer shows the Spotify secret"
    unset SPOTIFY_CLIENT_ID SPOTIFY_CLIENT_SECRET FER_SPOTIFY_API_URL FER_SPOTIFY_ACCOUNTS_URL
    run spotify-none "$BIN" --source spotify --port 0
    one_error spotify-none 1 "fer-serve: Spotify: Spotify client id and secret are required"
    run source-bad "$BIN" --source radio
    one_error source-bad 2 "fer-serve: --source 'radio': expected offline or spotify"
else
    echo "serve.sh: $BUILD/tests/mock-spotify missing; Spotify checks skipped"
fi

[ "$fails" -eq 0 ] && echo "serve.sh: all checks passed ($(grep -c ' ms' "$tmp/log") requests logged)"
[ "$fails" -eq 0 ]
