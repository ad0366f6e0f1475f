#!/usr/bin/env bash
# Issue 15 (hardening, round 2) at the tools' level (docs/hardening.md):
# fer-recommend's --m3u through a planted temporary-name symlink and into a
# FIFO, and text from outside (a state label on stdin, Spotify's error text)
# printed without terminal escapes, newlines or the credentials.
set -u
BUILD=${BUILD:-build}
R="$BUILD/bin/fer-recommend"
MOCK="$BUILD/tests/mock-spotify"
tmp=$(mktemp -d /tmp/hardening.XXXXXX)
mock_pid=
cleanup() {
    exec 7>&- 2>/dev/null
    [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null && wait "$mock_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
fail() { echo "hardening.sh: FAIL: $*"; fails=$((fails + 1)); }
unset SPOTIFY_CLIENT_ID SPOTIFY_CLIENT_SECRET FER_SPOTIFY_API_URL FER_SPOTIFY_ACCOUNTS_URL
[ -x "$R" ] && [ -x "$MOCK" ] || { echo "hardening.sh: $R or $MOCK not built"; exit 1; }

# --- a symlink planted at the old temporary name (PATH.tmp.PID; the shell
# execs fer-recommend, which keeps its PID) is not followed.
echo keep >"$tmp/victim"
bash -c 'ln -s "$1" "$2.tmp.$$" && exec "$3" --emotion happy --limit 2 --m3u "$2"' _ \
    "$tmp/victim" "$tmp/pl.m3u" "$R" >/dev/null 2>"$tmp/err" || fail "--m3u: $(cat "$tmp/err")"
[ "$(cat "$tmp/victim")" = keep ] || fail "--m3u wrote through the symlink planted at pl.m3u.tmp.PID"
[ -f "$tmp/pl.m3u" ] && [ ! -L "$tmp/pl.m3u" ] && grep -q '^#EXTM3U' "$tmp/pl.m3u" ||
    fail "--m3u did not write pl.m3u"
ls -A "$tmp" | grep -q '^\.pl\.m3u\.tmp-' && fail "--m3u left its temporary file"

# --- a FIFO is written into, not replaced by a regular file.
mkfifo "$tmp/fifo"
timeout 20 cat "$tmp/fifo" >"$tmp/from-fifo" &
reader=$!
timeout 20 "$R" --emotion sad --limit 2 --m3u "$tmp/fifo" >/dev/null 2>"$tmp/err" ||
    fail "--m3u FIFO: $(cat "$tmp/err")"
[ -p "$tmp/fifo" ] || fail "--m3u replaced the FIFO" # then the reader waits for its timeout
wait "$reader"
grep -q '^#EXTM3U' "$tmp/from-fifo" || fail "nothing came through the FIFO"

# --- a label from stdin is printed without its control characters.
printf '%s\n' '{"state":{"emotion":"Sad","intensity":"Mildly","label":"\u001b[2J\u001b[31mred\nNEWLINE","valence":-0.6,"arousal":0.2}}' |
    "$R" --limit 2 >"$tmp/out" 2>/dev/null || fail "label with escapes: exit $?"
grep -q "$(printf '\033')" "$tmp/out" && fail "the label's escape sequence reached the output"
grep -q '^NEWLINE' "$tmp/out" && fail "the label's newline reached the output"

# --- Spotify's error text echoing the credentials among escapes: one clean
# line on stderr, the secret and its Basic form (base64 of id:secret) absent.
mkfifo "$tmp/mock-in"
"$MOCK" echo 10 <"$tmp/mock-in" >"$tmp/port" &
mock_pid=$!
exec 7>"$tmp/mock-in" # the mock exits when this closes
for _ in $(seq 50); do [ -s "$tmp/port" ] && break; sleep 0.1; done
export FER_SPOTIFY_API_URL="http://127.0.0.1:$(head -1 "$tmp/port")"
export FER_SPOTIFY_ACCOUNTS_URL="$FER_SPOTIFY_API_URL"
export SPOTIFY_CLIENT_ID=test-id SPOTIFY_CLIENT_SECRET=test-secret
"$R" --emotion happy --source spotify >/dev/null 2>"$tmp/err" && fail "spotify echo: exit 0"
[ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "spotify echo: $(wc -l <"$tmp/err") stderr lines"
grep -q "$(printf '\033')" "$tmp/err" && fail "spotify echo: an escape sequence reached stderr"
grep -qE 'test-secret|dGVzdC1pZDp0ZXN0LXNlY3JldA|tok1' "$tmp/err" && fail "spotify echo: credentials in: $(cat "$tmp/err")"
grep -q 'HTTP 400' "$tmp/err" || fail "spotify echo: $(cat "$tmp/err")"

[ "$fails" -eq 0 ] && echo "hardening.sh: --m3u through a planted symlink and into a FIFO, outside text, all safe"
exit $((fails > 0))
