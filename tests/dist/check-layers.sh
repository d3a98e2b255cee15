#!/usr/bin/env bash
# Every dependency between the top-level folders points down the stack:
#   base < plan < proto < net < state < cli < {collector aggregator publisher monitor}
#   < {replay report} < web < src
# Each folder may include headers of the folders listed for it below, and no
# other: a library that includes a higher one's header (or a stage that reaches
# into another stage) fails this check. The codec libraries (base, plan,
# proto) never use the ops headers (logging, metrics). Usage: check-layers.sh SOURCE_DIR
set -u
top=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$top" || exit 2

declare -A allowed=(
    [base]="base"
    [plan]="base plan"
    [proto]="base plan proto"
    [net]="base plan proto net"
    [state]="base plan proto state"
    [cli]="base plan proto net state cli"
    [collector]="base plan proto net state cli collector"
    [aggregator]="base plan proto net state cli aggregator"
    [publisher]="base plan proto net state cli publisher"
    [monitor]="base plan proto net state cli monitor"
    [replay]="base plan proto net state cli monitor replay"
    [report]="base plan proto net state cli monitor report"
    [web]="base plan proto net state cli monitor report web"
    [src]="base plan proto net state cli collector aggregator publisher monitor replay report web src"
)
codecs="base plan proto"
ops_headers="pw/log.h pw/prom.h"
# The collector's spool uses the LMDB helpers of state/, not the store or the model.
state_for_collector="lmdb_util.h"

# Which folder a header named in an #include "..." lives in.
declare -A home=()
for dir in "${!allowed[@]}"; do
    while IFS= read -r h; do
        rel=${h#"$dir"/}
        rel=${rel#include/}
        if [ -n "${home[$rel]:-}" ] && [ "${home[$rel]}" != "$dir" ]; then
            echo "check-layers: $rel is in both ${home[$rel]}/ and $dir/: includes cannot tell them apart"
            exit 1
        fi
        home[$rel]=$dir
    done < <(find "$dir" -name '*.h' -not -path '*/build*' 2>/dev/null)
done

bad=0
checked=0
for dir in "${!allowed[@]}"; do
    [ -d "$dir" ] || { echo "check-layers: no folder $dir/"; bad=1; continue; }
    while IFS= read -r file; do
        checked=$((checked + 1))
        while IFS=: read -r line inc; do
            owner=${home[$inc]:-}
            [ -n "$owner" ] || continue # a header of no folder here (tests' own, generated)
            case " ${allowed[$dir]} " in
            *" $owner "*) ;;
            *)
                echo "$file:$line: includes \"$inc\" of $owner/, which $dir/ must not depend on"
                bad=1
                ;;
            esac
            if [[ " $codecs " == *" $dir "* ]] && [[ $file != base/ops/* ]] &&
                [[ " $ops_headers " == *" $inc "* ]]; then
                echo "$file:$line: includes \"$inc\": the codec libraries ($codecs) do not log or count"
                bad=1
            fi
            if [ "$dir" = collector ] && [ "$owner" = state ] && [ "$inc" != "$state_for_collector" ]; then
                echo "$file:$line: includes \"$inc\": the collector uses only state/'s $state_for_collector"
                bad=1
            fi
        done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$file" |
                 sed 's/^\([0-9]*\):.*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1:\2/')
    done < <(find "$dir" \( -name '*.c' -o -name '*.h' \) -not -path '*/build*')
done
if [ "$checked" -eq 0 ]; then
    echo "check-layers: no source file found under $top"
    exit 1
fi
if [ "$bad" -ne 0 ]; then
    echo "check-layers: FAILED (the stack is in tests/dist/check-layers.sh)"
    exit 1
fi
echo "check-layers: $checked files, every include points down the stack"
