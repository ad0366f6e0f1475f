#!/usr/bin/env bash
# make install into a temporary PREFIX: pkg-config gives the data directory;
# a program built with `pkg-config --cflags --libs libfer` runs without
# LD_LIBRARY_PATH and finds the installed files with fer_data_path; the
# installed fer-recommend reads PREFIX's catalogue even when run inside the
# source tree (there the copy in PREFIX differs), while the build tree's reads
# the tree's; the man pages are installed; make uninstall leaves no file behind.
set -u
BUILD=${BUILD:-build}
tmp=$(mktemp -d /tmp/install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
P="$tmp/prefix"
fails=0
fail() { echo "install.sh: FAIL: $*"; fails=$((fails + 1)); }

# A sanitizer build (make SAN=...) installs with the same flags, and programs
# linking it need the sanitizer runtimes.
san=
nm "$BUILD/libfer.a" 2>/dev/null | grep -q '__asan_' && san=address
nm "$BUILD/libfer.a" 2>/dev/null | grep -q '__ubsan_' && san=${san:+$san,}undefined
MAKEFLAGS='' make -s install PREFIX="$P" BUILD="$BUILD" SAN="$san" >"$tmp/log" 2>&1 ||
    { cat "$tmp/log"; echo "install.sh: FAIL: make install"; exit 1; }

export PKG_CONFIG_PATH="$P/lib/pkgconfig"
[ "$(pkg-config --variable=datadir libfer)" = "$P/share/libfer" ] ||
    fail "pkg-config datadir: '$(pkg-config --variable=datadir libfer)'"
cat >"$tmp/where.c" <<'EOF'
/* Prints where fer_data_path finds argv[1] (under argv[2] when given). */
#include <fer.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    char path[4096];
    fer_error err;
    if (argc < 2 || fer_data_path(argc > 2 ? argv[2] : NULL, argv[1], path, sizeof path, &err)) {
        fprintf(stderr, "where: %s\n", argc < 2 ? "usage: where NAME [DIR]" : err.msg);
        return 1;
    }
    printf("%s\n", path);
    return 0;
}
EOF
# shellcheck disable=SC2046
${CC:-cc} -std=c11 -Wall -Wextra -Werror $(pkg-config --cflags libfer) ${san:+-fsanitize=$san} \
    "$tmp/where.c" -o "$tmp/where" $(pkg-config --libs libfer) || fail "building with pkg-config"
readelf -d "$tmp/where" | grep -q 'NEEDED.*libfer\.so\.0' || fail "where does not link libfer.so"
out=$(env -u LD_LIBRARY_PATH "$tmp/where" weights/fer-7class.safetensors 2>&1)
[ "$out" = "$P/share/libfer/weights/fer-7class.safetensors" ] || fail "fer_data_path without LD_LIBRARY_PATH: $out"
env -u LD_LIBRARY_PATH "$tmp/where" weights/none.safetensors >/dev/null 2>"$tmp/err" &&
    fail "fer_data_path found a file that is not there"
grep -q "^where: $P/share/libfer/weights/none.safetensors: No such file" "$tmp/err" ||
    fail "missing file message: $(cat "$tmp/err")"
[ "$("$tmp/where" catalog.csv "$PWD/datasets")" = "$PWD/datasets/catalog.csv" ] || fail "fer_data_path with a dir"

# The installed catalogue is cut to one track of its own; run from the source tree.
printf 'genre,artist_name,track_name,track_id,popularity,valence,energy,tempo\n%s\n' \
    'Pop,Install Test,Only In The Prefix,0000000000installtest1,50,0.5,0.5,100' \
    >"$P/share/libfer/datasets/catalog.csv"
recommend() {
    env -u FER_DATA_DIR -u SPOTIFY_CLIENT_ID -u SPOTIFY_CLIENT_SECRET -u LD_LIBRARY_PATH "$1" \
        --emotion happy --limit 1 >"$tmp/$2.out" 2>"$tmp/$2.err" || fail "$1: $(cat "$tmp/$2.err")"
}
recommend "$P/bin/fer-recommend" installed
grep -q "offline catalogue $P/share/libfer/datasets/catalog.csv" "$tmp/installed.err" ||
    fail "installed fer-recommend's catalogue: $(cat "$tmp/installed.err")"
grep -q "Only In The Prefix" "$tmp/installed.out" || fail "installed fer-recommend's song: $(cat "$tmp/installed.out")"
recommend "$BUILD/bin/fer-recommend" tree
grep -q "offline catalogue $PWD/datasets/catalog.csv" "$tmp/tree.err" ||
    fail "build tree's fer-recommend: $(cat "$tmp/tree.err")"
for t in fer-train fer-eval fer-predict fer-recommend fer-serve $([ -x "$BUILD/bin/fer-live" ] && echo fer-live); do
    [ -x "$P/bin/$t" ] && [ -f "$P/share/man/man1/$t.1" ] || fail "$t or its man page not installed"
done
[ -x "$P/bin/fer-serve" ] && [ -f "$P/share/libfer/web/index.html" ] || fail "fer-serve or its web page not installed"

MAKEFLAGS='' make -s uninstall PREFIX="$P" BUILD="$BUILD" SAN="$san" >"$tmp/log" 2>&1 || fail "make uninstall: $(cat "$tmp/log")"
left=$(find "$P" ! -type d)
[ -z "$left" ] || fail "left after make uninstall: $left"
[ "$fails" -eq 0 ]
