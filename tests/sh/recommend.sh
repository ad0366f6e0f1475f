#!/usr/bin/env bash
# fer-recommend end to end: flags, fer-predict JSON on stdin, --json, --m3u,
# seeds, --catalog, bad input, and the Spotify path against tests' mock server.
set -u
BUILD=${BUILD:-build}
R="$BUILD/bin/fer-recommend"
MOCK="$BUILD/tests/mock-spotify"
PY=/usr/bin/python3
tmp=$(mktemp -d)
mock_pid=
cleanup() {
    exec 7>&- 2>/dev/null
    [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null && wait "$mock_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
fail() { echo "recommend.sh: FAIL: $*"; fails=$((fails + 1)); }
unset SPOTIFY_CLIENT_ID SPOTIFY_CLIENT_SECRET FER_SPOTIFY_API_URL FER_SPOTIFY_ACCOUNTS_URL

[ -x "$R" ] || { echo "recommend.sh: $R not built"; exit 1; }

# --- flags -> a table with 10 links by default
"$R" --emotion sad --intensity 0.8 --bpm 62 >"$tmp/out" 2>"$tmp/err" || fail "sad run exited $?"
[ "$(grep -c 'https://open.spotify.com/track/' "$tmp/out")" -eq 10 ] || fail "default limit is not 10 rows"
grep -q '^State: .*[Ss]ad' "$tmp/out" || fail "table lacks the state line"
grep -q 'source: offline catalogue' "$tmp/err" || fail "stderr does not name the source"

# --- JSON: valid, limit, one per artist, genre filter, sad below happy
json_check() { # file, python expression over j that must hold
    "$PY" -c "import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if ($2) else 1)" "$1"
}
"$R" --emotion sad --bpm 60 --limit 7 --json >"$tmp/sad.json" 2>/dev/null || fail "--json exited $?"
"$PY" -m json.tool "$tmp/sad.json" >/dev/null || fail "--json output is not JSON"
json_check "$tmp/sad.json" "len(j['tracks'])==7 and j['source']=='offline' and j['strategy']=='match'" \
    || fail "--json: wrong count/source/strategy"
json_check "$tmp/sad.json" "len({t['artist'].lower() for t in j['tracks']})==7" || fail "artist repeated"
json_check "$tmp/sad.json" "all(t['url']=='https://open.spotify.com/track/'+t['id'] for t in j['tracks'])" \
    || fail "bad links"
"$R" --emotion happy --intensity 0.9 --bpm 120 --limit 7 --json >"$tmp/happy.json" 2>/dev/null
"$PY" - "$tmp/sad.json" "$tmp/happy.json" <<'EOF' || fail "sad picks are not sadder/calmer than happy picks"
import json, sys
s, h = (json.load(open(p))['tracks'] for p in sys.argv[1:])
mean = lambda ts, k: sum(t[k] for t in ts) / len(ts)
sys.exit(0 if mean(s, 'valence') < mean(h, 'valence') and mean(s, 'energy') < mean(h, 'energy') else 1)
EOF
"$R" --emotion happy --genre COUNTRY --json >"$tmp/c.json" 2>/dev/null || fail "--genre exited $?"
json_check "$tmp/c.json" "j['tracks'] and all('country' in ' '.join(t['genres']).lower() for t in j['tracks'])" \
    || fail "--genre filter"
# several genres, repeated and comma-separated; genres the 19k-track catalogue lacked
"$R" --emotion sad --genre rock --genre "Jazz, classical" --json >"$tmp/g.json" 2>/dev/null \
    || fail "--genre list exited $?"
json_check "$tmp/g.json" "len(j['tracks'])==10 and all({'rock','jazz','classical'} & {g.lower() for g in t['genres']} for t in j['tracks'])" \
    || fail "--genre rock --genre 'Jazz, classical' filter"
for g in rock jazz classical metal; do
    "$R" --emotion neutral --genre $g --limit 3 >/dev/null 2>&1 || fail "--genre $g found nothing"
done
# a genre the catalogue lacks: exit 1, one line with the count and the nearest genres
"$R" --emotion sad --genre rock,jaz >/dev/null 2>"$tmp/err"
rc=$?
[ $rc -eq 1 ] || fail "--genre jaz: exit $rc, expected 1"
grep -q "^fer-recommend: no genre 'jaz' in the catalogue ([0-9]* genres); nearest: jazz ([0-9]*), " "$tmp/err" \
    || fail "--genre miss message: $(cat "$tmp/err")"

# --- uplift with a racing heart asks for slower music than match
"$R" --emotion angry --bpm 130 --json >"$tmp/m.json" 2>/dev/null
"$R" --emotion angry --bpm 130 --strategy uplift --json >"$tmp/u.json" 2>/dev/null
"$PY" - "$tmp/m.json" "$tmp/u.json" <<'EOF' || fail "uplift target tempo is not below match"
import json, sys
m, u = (json.load(open(p))['target'] for p in sys.argv[1:])
sys.exit(0 if u['tempo'] < m['tempo'] and u['valence'] > m['valence'] else 1)
EOF

# --- --help and --table: stdout, exit 0
"$R" --help >"$tmp/out" 2>"$tmp/err" || fail "--help exited $?"
grep -q '^usage: fer-recommend' "$tmp/out" && [ ! -s "$tmp/err" ] || fail "--help output"
"$R" --table >"$tmp/out" 2>/dev/null || fail "--table exited $?"
[ "$(grep -c '^| [A-Z]' "$tmp/out")" -eq $((7 * 3 * 2 * 4)) ] || fail "--table rows"

# --- seeds: same seed, same output
"$R" --emotion neutral --seed 5 >"$tmp/a" 2>/dev/null
"$R" --emotion neutral --seed 5 >"$tmp/b" 2>/dev/null
cmp -s "$tmp/a" "$tmp/b" || fail "same seed gave different output"

# --- fer-predict JSON on stdin: the first object with a state is used
printf '%s\n%s\n' \
    '{"image":"none.jpg","faces":[],"heart":null,"state":null}' \
    '{"image":"a.jpg","faces":[{"box":[1,2,3,4],"emotion":"sad","confidence":0.9}],"heart":{"bpm":58,"level":"low","arousal":0.1},"state":{"emotion":"Sad","intensity":"Mildly","label":"Mildly sad but calm","valence":-0.6,"arousal":0.2}}' \
    | "$R" --limit 3 --json >"$tmp/stdin.json" 2>/dev/null || fail "stdin JSON exited $?"
json_check "$tmp/stdin.json" "j['state']['label']=='Mildly sad but calm' and j['heart']['level']=='low' and len(j['tracks'])==3" \
    || fail "stdin state not used"
json_check "$tmp/stdin.json" "j['target']['valence'] < 0.4 and j['target']['tempo'] < 95" \
    || fail "mildly sad, calm target is not low and slow"

# --- --m3u
"$R" --emotion happy --limit 4 --m3u "$tmp/list.m3u" >/dev/null 2>&1 || fail "--m3u exited $?"
head -1 "$tmp/list.m3u" | grep -qx '#EXTM3U' || fail "m3u header"
[ "$(grep -c '^https://open.spotify.com/track/[A-Za-z0-9]*$' "$tmp/list.m3u")" -eq 4 ] || fail "m3u links"
[ "$(grep -c '^#EXTINF:' "$tmp/list.m3u")" -eq 4 ] || fail "m3u EXTINF lines"

# --- --catalog: any CSV with the columns; bad rows are a warning
cat >"$tmp/cat.csv" <<'EOF'
track_id,track_name,artist_name,genre,popularity,valence,energy,tempo
aaaaaaaaaaaaaaaaaaaaa1,"Slow, Sad",One,Pop,10,0.1,0.2,70
aaaaaaaaaaaaaaaaaaaaa2,Fast Happy,Two,Pop,10,0.9,0.9,150
aaaaaaaaaaaaaaaaaaaaa3,Broken,Three,Pop,10,high,0.9,150
EOF
"$R" --emotion sad --limit 1 --catalog "$tmp/cat.csv" --json >"$tmp/cat.json" 2>"$tmp/err" \
    || fail "--catalog exited $?"
json_check "$tmp/cat.json" "j['tracks'][0]['title']=='Slow, Sad'" || fail "--catalog ranking"
grep -q '1 bad rows skipped; first: .*cat.csv:4: valence' "$tmp/err" || fail "bad row warning: $(cat "$tmp/err")"

# --- scripts/make-catalog: tables of two layouts merged by id (the first source's
# fields, the highest popularity, genres as a list), key and mode as numbers, bad rows
# counted per source and reason; the output loads
printf '%s\n' 'track_id,artists,album_name,track_name,popularity,duration_ms,explicit,danceability,energy,key,loudness,mode,speechiness,acousticness,instrumentalness,liveness,valence,tempo,time_signature,track_genre' \
    'aaaaaaaaaaaaaaaaaaaaa1,One;Guest,X,"A, B",30,1000,False,0.5,0.25,1,-5,0,0.1,0.2,0,0.1,0.15,71,4,Hip-Hop' \
    'aaaaaaaaaaaaaaaaaaaaa4,Ã‡a,X,E,5,1000,False,0.5,0.5,11,-5,1,0.1,0.2,0,0.1,0.5,100,4,r-n-b' >"$tmp/new.csv"
printf '%s\n' 'genre,artist_name,track_name,track_id,popularity,valence,energy,tempo,key,mode,time_signature' \
    'Pop,One,"A, B",aaaaaaaaaaaaaaaaaaaaa1,10,0.1,0.2,70,C#,Minor,4-Apr' \
    'Rock,Two,C,aaaaaaaaaaaaaaaaaaaaa2,101,0.9,0.9,150,D,Major,4-Apr' \
    'Rock,Three,D,aaaaaaaaaaaaaaaaaaaaa3,10,0.9,0.9,0,E,Major,4-Mar' \
    'Jazz,Five,F,aaaaaaaaaaaaaaaaaaaaa5,10,0.5,0.5,90,A#,Major,4-Apr' >"$tmp/old.csv"
scripts/make-catalog -o "$tmp/built.csv" "$tmp/new.csv" "$tmp/old.csv" 2>"$tmp/err" || fail "make-catalog exited $?"
for line in 'new.csv: 2 rows, 2 new tracks, 0 merged, 1 mojibake names repaired, 0 bad' \
    'old.csv: 4 rows, 1 new tracks, 1 merged, 2 bad' 'old.csv: 1 bad rows: bad popularity' \
    'old.csv: 1 bad rows: tempo 0 (no beat found)' 'built.csv: 3 tracks, 4 genres'; do
    grep -qF "$line" "$tmp/err" || fail "make-catalog report lacks '$line': $(cat "$tmp/err")"
done
{
    echo 'track_id,track_name,artist_name,genres,popularity,valence,energy,tempo,danceability,acousticness,duration_ms,key,mode'
    echo 'aaaaaaaaaaaaaaaaaaaaa1,"A, B",One,hip hop; pop,30,0.15,0.25,71,0.5,0.2,1000,1,0'
    echo 'aaaaaaaaaaaaaaaaaaaaa4,E,Ça,r&b,5,0.5,0.5,100,0.5,0.2,1000,11,1'
    echo 'aaaaaaaaaaaaaaaaaaaaa5,F,Five,jazz,10,0.5,0.5,90,,,,10,1'
} | cmp -s - "$tmp/built.csv" || fail "make-catalog output: $(cat "$tmp/built.csv")"
"$R" --emotion sad --catalog "$tmp/built.csv" --genre 'R&B,pop' --limit 2 --json >"$tmp/b.json" 2>/dev/null \
    || fail "make-catalog output does not load"
json_check "$tmp/b.json" "len(j['tracks'])==2" || fail "make-catalog output: genre lists not read"

# --- bad input: non-zero exit and exactly one line on stderr
one_line_error() { # description, then the command
    local what=$1
    shift
    "$@" >/dev/null 2>"$tmp/err" </dev/null
    local rc=$?
    [ $rc -ne 0 ] || fail "$what: exit status 0"
    [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "$what: stderr is not one line: $(cat "$tmp/err")"
    grep -q '^fer-recommend: ' "$tmp/err" || fail "$what: message lacks the tool name"
}
one_line_error "--limit 0" "$R" --emotion sad --limit 0
one_line_error "--limit x" "$R" --emotion sad --limit x
one_line_error "--emotion foo" "$R" --emotion foo
one_line_error "--intensity 2" "$R" --emotion sad --intensity 2
one_line_error "--bpm -5" "$R" --emotion sad --bpm -5
one_line_error "--bpm 0x50" "$R" --emotion sad --bpm 0x50
one_line_error "--strategy" "$R" --emotion sad --strategy sideways
one_line_error "--source" "$R" --emotion sad --source radio
one_line_error "unknown option" "$R" --emotion sad --frobnicate
one_line_error "missing value" "$R" --emotion
one_line_error "--intensity alone" "$R" --intensity 0.5
one_line_error "empty stdin" "$R"
one_line_error "no catalogue" "$R" --emotion sad --catalog "$tmp/none.csv"
one_line_error "unknown genre" "$R" --emotion sad --genre polka
one_line_error "empty genre in a list" "$R" --emotion sad --genre "rock,,jazz"
one_line_error "m3u in missing dir" "$R" --emotion sad --m3u "$tmp/no/dir/x.m3u"
one_line_error "m3u a directory" "$R" --emotion sad --m3u "$tmp"
one_line_error "spotify without credentials" "$R" --emotion sad --source spotify
for garbage in 'garbage' '{"state":' '[1,2]' '{"state":{"emotion":"Bored","arousal":0.5}}' \
    '{"state":{"emotion":"Sad","arousal":7}}' '{"state":{"emotion":"Sad","intensity":"Hugely","arousal":0.5}}' \
    '{"state":{"emotion":"Sad","arousal":0.5},"heart":{"bpm":"fast"}}' '{"state":null}'; do
    printf '%s\n' "$garbage" | "$R" >/dev/null 2>"$tmp/err"
    rc=$?
    [ $rc -eq 1 ] || fail "stdin '$garbage': exit $rc, expected 1"
    [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "stdin '$garbage': stderr not one line: $(cat "$tmp/err")"
done

# --- Spotify through the mock server
start_mock() {
    exec 7>&- 2>/dev/null
    [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null && wait "$mock_pid" 2>/dev/null
    rm -f "$tmp/fifo" && mkfifo "$tmp/fifo"
    "$MOCK" "$1" 10 <"$tmp/fifo" >"$tmp/port" &
    mock_pid=$!
    exec 7>"$tmp/fifo" # the mock exits when this closes
    for _ in $(seq 50); do [ -s "$tmp/port" ] && break; sleep 0.1; done
    export FER_SPOTIFY_API_URL="http://127.0.0.1:$(head -1 "$tmp/port")"
    export FER_SPOTIFY_ACCOUNTS_URL="$FER_SPOTIFY_API_URL"
}
if [ -x "$MOCK" ]; then
    export SPOTIFY_CLIENT_ID=test-id SPOTIFY_CLIENT_SECRET=test-secret
    start_mock ok
    "$R" --emotion happy --limit 3 --json >"$tmp/sp.json" 2>"$tmp/err" || fail "spotify ok exited $?"
    json_check "$tmp/sp.json" "j['source']=='spotify-recommendations' and len(j['tracks'])==3" \
        || fail "spotify recommendations"
    grep -q '/v1/recommendations' "$tmp/err" || fail "stderr does not say recommendations"
    start_mock 403
    "$R" --emotion sad --limit 4 >"$tmp/out" 2>"$tmp/err" || fail "spotify 403 exited $?"
    grep -q '/v1/search' "$tmp/err" || fail "stderr does not say search"
    [ "$(grep -c 'open.spotify.com/track/s0' "$tmp/out")" -eq 4 ] || fail "search results not shown"
    start_mock garbage
    "$R" --emotion sad --limit 2 --json >"$tmp/fb.json" 2>"$tmp/err" || fail "auto fallback exited $?"
    json_check "$tmp/fb.json" "j['source']=='offline'" || fail "no offline fallback"
    grep -q 'falling back' "$tmp/err" || fail "fallback not announced"
    start_mock badauth
    "$R" --emotion sad --source spotify >/dev/null 2>"$tmp/err" && fail "--source spotify ignored a failure"
    grep -q 'invalid_client' "$tmp/err" || fail "token error not shown"
    grep -q 'test-secret' "$tmp/err" "$tmp/out" "$tmp/sp.json" && fail "the secret was printed"
    unset SPOTIFY_CLIENT_ID SPOTIFY_CLIENT_SECRET
else
    echo "recommend.sh: $MOCK not built, Spotify checks skipped"
fi

# --- the real pipeline: fer-predict (a random-weight model, a flat grey face) | fer-recommend
P="$BUILD/bin/fer-predict"
if [ -x "$P" ] && [ -x "$BUILD/tests/test_predict_model" ] &&
    "$BUILD/tests/test_predict_model" --write "$tmp/m7.safetensors" 7 >/dev/null 2>&1; then
    { printf 'P5\n48 48\n255\n'; head -c 2304 /dev/zero | tr '\0' '\200'; } >"$tmp/face.pgm"
    "$P" "$tmp/face.pgm" --no-detect --weights "$tmp/m7.safetensors" --bpm 88 --json >"$tmp/pred.json" 2>/dev/null \
        || fail "fer-predict failed: $(cat "$tmp/pred.json")"
    "$R" --limit 3 --json <"$tmp/pred.json" >"$tmp/pipe.json" 2>"$tmp/err" || fail "pipeline exited $?: $(cat "$tmp/err")"
    json_check "$tmp/pipe.json" "len(j['tracks'])==3 and j['heart']['bpm']==88" || fail "pipeline output"
else
    echo "recommend.sh: fer-predict or its test model missing; pipeline check skipped"
fi

[ $fails -eq 0 ] && echo "recommend.sh: all checks passed"
[ $fails -eq 0 ]
