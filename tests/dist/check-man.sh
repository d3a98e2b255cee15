#!/bin/sh
# Every command has a man page, each page is exactly what `planwatch --man`
# makes of the current --help (so the two never disagree), and groff and man
# render each one without a warning.
#   check-man.sh PLANWATCH_BIN MAN_DIR
set -eu
bin=$1 dir=$2
fail() { echo "check-man: $*" >&2; exit 1; }
command -v groff >/dev/null || fail "groff missing (apt-get install groff-base)"
tmp=$(mktemp -d /tmp/pw-man-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cmds=$("$bin" --help | sed -n '/^commands:/,/^$/p' | awk 'NF > 1 {print $1}')
[ -n "$cmds" ] || fail "planwatch --help lists no commands"
n=0
for c in "" $cmds; do
    page=planwatch${c:+-$c}
    [ -f "$dir/$page.1" ] || fail "no man page $page.1 for '$c'"
    "$bin" --man $c >"$tmp/$page.1" || fail "planwatch --man $c failed"
    cmp -s "$tmp/$page.1" "$dir/$page.1" || fail "$page.1 is stale: rebuild"
    # The options of --help are all in the page.
    for opt in $("$bin" ${c:+$c} --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
        roff=$(echo "$opt" | sed 's/-/\\\\-/g')
        grep -q -- "$roff" "$dir/$page.1" || fail "$page.1 lacks $opt"
    done
    warn=$(LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$dir/$page.1" 2>&1)
    [ -z "$warn" ] || fail "groff warns on $page.1: $warn"
    if command -v man >/dev/null; then
        out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$dir/$page.1" 2>&1 >/dev/null)
        [ -z "$out" ] || fail "man -l warns on $page.1: $out"
        LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$dir/$page.1" 2>/dev/null | grep -q "^NAME" ||
            fail "man -l does not render $page.1"
    fi
    n=$((n + 1))
done
echo "check-man: $n man pages, all current and clean"
