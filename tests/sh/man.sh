#!/usr/bin/env bash
# The man pages (man/*.1) against the tools, so that they cannot drift apart:
# every long option a tool's --help prints is in its page, every option the
# page describes (its .TP items) is in --help, and groff formats the page
# without a warning (overfull lines aside).
set -u
BUILD=${BUILD:-build}
fails=0
fail() { echo "man.sh: FAIL: $*"; fails=$((fails + 1)); }
# The page's text with roff's escapes undone: \- is -, fonts and break points go.
plain() { sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\[:%]//g' "$1"; }
long_options() { grep -oE -- '--[a-z][a-z0-9-]*' | sort -u; }
has() { grep -qE -- "$1([^a-z0-9-]|\$)"; }

for t in fer-train fer-eval fer-predict fer-recommend fer-serve fer-live; do
    page=man/$t.1
    # fer-live is built only where FFmpeg's -dev packages are (scripts/install-deps)
    [ "$t" = fer-live ] && [ ! -x "$BUILD/bin/$t" ] && { echo "man.sh: fer-live not built, skipped"; continue; }
    [ -f "$page" ] || { fail "$page is missing"; continue; }
    help=$("$BUILD/bin/$t" --help 2>&1) || fail "$t --help: exit status $?"
    text=$(plain "$page")
    for o in $(long_options <<<"$help"); do
        has "$o" <<<"$text" || fail "$page lacks $o (in $t --help)"
    done
    for o in $(awk 'prev == ".TP" { print } { prev = $1 }' <<<"$text" | long_options); do
        has "$o" <<<"$help" || fail "$page describes $o, which $t --help does not list"
    done
    warnings=$(groff -man -ww -Wbreak -z "$page" 2>&1)
    [ -z "$warnings" ] || fail "$page: $warnings"
done
[ "$fails" -eq 0 ]
