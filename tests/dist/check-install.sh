#!/bin/sh
# Installs a build tree into a staging directory (DESTDIR) and checks that every
# file is where a Debian system expects it, that the example configs pass
# --check-config, and that systemd-analyze verify accepts the units (pointed at
# the staged binary and configs, since the real paths do not exist yet).
# Then: the collector unit's command, run as systemd would (with its
# $STATE_DIRECTORY), spools into one directory; a reinstall keeps an edited
# config; and an install with another --prefix than the configured one names
# only that prefix in its units.
#   check-install.sh BUILD_DIR PREFIX SYSCONFDIR
set -eu
build=$1 prefix=$2 sysconfdir=$3
stage=$(mktemp -d /tmp/pw-install-XXXXXX)
trap 'rm -rf "$stage"' EXIT
fail() { echo "check-install: $*" >&2; exit 1; }

DESTDIR=$stage cmake --install "$build" >/dev/null

root=$stage$prefix
etc=$stage$sysconfdir/planwatch
for f in "$root/bin/planwatch" \
    "$root/share/planwatch/wuhan/catalog.conf" \
    "$root/share/planwatch/wuhan/districts/jiangan.csv" \
    "$etc/aggregator.conf" "$etc/publisher.conf" "$etc/collector.conf" "$etc/web.conf" \
    "$etc/web.routes" "$root/lib/systemd/system/planwatch-web.service" \
    "$root/lib/systemd/system/planwatch-aggregator.service" \
    "$root/lib/systemd/system/planwatch-publisher.service" \
    "$root/lib/systemd/system/planwatch-collector@.service" \
    "$root/lib/sysusers.d/planwatch.conf"; do
    [ -f "$f" ] || fail "not installed: ${f#"$stage"}"
done
[ -x "$root/bin/planwatch" ] || fail "bin/planwatch is not executable"
# A man page for planwatch and for every command its --help lists.
cmds=$("$root/bin/planwatch" --help | sed -n '/^commands:/,/^$/p' | awk 'NF > 1 {print $1}')
[ -n "$cmds" ] || fail "planwatch --help lists no commands"
[ -f "$root/share/man/man1/planwatch.1" ] || fail "not installed: planwatch.1"
for c in $cmds; do
    [ -f "$root/share/man/man1/planwatch-$c.1" ] || fail "not installed: planwatch-$c.1"
done

# The installed binary finds its installed catalog; the example configs are
# valid once their /var/lib/planwatch paths exist (here under the stage).
state=$stage/var/lib/planwatch
mkdir -p "$state/metrics" "$state/incoming"
cp "$root/share/planwatch/wuhan/districts/jiangan.csv" "$state/incoming/"
"$root/bin/planwatch" keygen --out "$stage/keys" >/dev/null || fail "planwatch keygen failed"
for d in aggregator publisher collector web; do
    sed -e "s|/var/lib/planwatch|$state|g" -e "s|/etc/planwatch/keys|$stage/keys|" \
        -e "s|^#catalog = .*|catalog = $root/share/planwatch/wuhan/catalog.conf|" \
        -e "s|/etc/planwatch/web.users|$stage/web.users|" \
        "$etc/$d.conf" >"$stage/$d.conf"
done
: >"$stage/web.users"
PLANWATCH_DATA=$root/share/planwatch
export PLANWATCH_DATA
"$root/bin/planwatch" aggregator --config "$stage/aggregator.conf" --check-config >/dev/null ||
    fail "aggregator.conf does not pass --check-config"
"$root/bin/planwatch" publisher --config "$stage/publisher.conf" --check-config >/dev/null ||
    fail "publisher.conf does not pass --check-config"
"$root/bin/planwatch" collector --config "$stage/collector.conf" --district jiangan \
    --data "$state/incoming/jiangan.csv" --spool "$state/spool-jiangan" --check-config >/dev/null ||
    fail "collector.conf does not pass --check-config"
"$root/bin/planwatch" web --config "$stage/web.conf" --check-config >/dev/null 2>&1 ||
    fail "web.conf does not pass --check-config"

# The units, with the installed paths pointing into the stage; the template
# is checked as an instance. Any message at all fails the test.
command -v systemd-analyze >/dev/null || fail "systemd-analyze missing (apt-get install systemd)"
units=$stage/units
mkdir -p "$units"
for u in "$root"/lib/systemd/system/*; do
    name=$(basename "$u")
    case $name in *@.service) name=$(echo "$name" | sed 's/@\.service$/@jiangan.service/') ;; esac
    sed -e "s|$prefix/bin/planwatch|$root/bin/planwatch|g" -e "s|$sysconfdir/planwatch|$etc|g" \
        "$u" >"$units/$name"
    grep -q "^ExecStart=$root/bin/planwatch " "$units/$name" || fail "$name: ExecStart= not the installed binary"
done
out=$(MANPATH=$root/share/man SYSTEMD_LOG_LEVEL=notice systemd-analyze verify "$units"/*.service 2>&1) ||
    fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify: $out"
for key in ProtectSystem=strict ProtectHome=yes NoNewPrivileges=yes PrivateTmp=yes \
    StateDirectory=planwatch User=planwatch; do
    for u in "$units"/*.service; do
        grep -q "^$key" "$u" || fail "$(basename "$u"): no $key"
    done
done
# systemd's own measure of the hardening: exposure 2.0 at most ("OK") for each unit.
for u in "$units"/*.service; do
    systemd-analyze security --offline=yes --threshold=20 "$u" >"$stage/security" 2>&1 ||
        fail "$(basename "$u"): exposure above 2.0: $(tail -1 "$stage/security")"
done
grep -q '^ExecReload=/bin/kill -HUP $MAINPID' "$units/planwatch-aggregator.service" ||
    fail "aggregator: no ExecReload"

# The collector instance's command line as systemd runs it: %i expanded and
# $STATE_DIRECTORY set the way systemd sets it, every StateDirectory= entry
# under /var/lib, colon-separated. Its spool must be one directory.
unit=$units/planwatch-collector@jiangan.service
state_env=
# shellcheck disable=SC2013 # the entries are words, space-separated
for d in $(sed -n 's/^StateDirectory=//p' "$unit"); do
    state_env=${state_env:+$state_env:}$stage/var/lib/$d
done
[ -n "$state_env" ] || fail "collector unit: no StateDirectory="
cmd=$(sed -n 's/^ExecStart=//p' "$unit" | sed -e 's/%i/jiangan/g' -e "s|/var/lib/planwatch|$state|g" \
    -e "s|--config $etc/collector.conf|--config $stage/collector.conf|")
# shellcheck disable=SC2086 # the unit's command line, split as systemd splits it (no quotes in it)
STATE_DIRECTORY=$state_env $cmd --check-config >"$stage/collector.check" 2>&1 ||
    fail "collector unit's command fails --check-config: $(cat "$stage/collector.check")"
spool=$(sed -n 's/^spool = //p' "$stage/collector.check")
[ "$spool" = "$state/spool-jiangan" ] ||
    fail "collector unit spools into '$spool', not $state/spool-jiangan (STATE_DIRECTORY=$state_env)"

# A reinstall keeps an edited config; the example goes beside it only when it
# changed (here: as if the previous version's example had been another).
echo "log-level = debug # edited by check-install" >>"$etc/aggregator.conf"
DESTDIR=$stage cmake --install "$build" >/dev/null
grep -q "edited by check-install" "$etc/aggregator.conf" || fail "reinstall overwrote an edited config"
[ ! -e "$etc/aggregator.conf.new" ] || fail "reinstall wrote aggregator.conf.new, the example is unchanged"
examples=$root/share/planwatch/etc
[ -f "$examples/aggregator.conf" ] || fail "not installed: share/planwatch/etc/aggregator.conf"
echo "# an older example" >>"$examples/aggregator.conf"
echo "# an older example" >>"$examples/publisher.conf"
cp "$examples/publisher.conf" "$etc/publisher.conf" # unedited, from the older version
DESTDIR=$stage cmake --install "$build" >/dev/null
grep -q "edited by check-install" "$etc/aggregator.conf" || fail "upgrade overwrote an edited config"
cmp -s "$etc/aggregator.conf.new" "$examples/aggregator.conf" ||
    fail "upgrade: the changed example is not beside the edited config as aggregator.conf.new"
cmp -s "$etc/publisher.conf" "$examples/publisher.conf" || fail "upgrade kept an unedited old config"

# Installed with another prefix than the configured one: the units follow it.
other=/usr
[ "$prefix" != /usr ] || other=/opt/planwatch
case $other in /usr) other_etc=/etc ;; *) other_etc=/etc$other ;; esac
stage2=$stage/other
DESTDIR=$stage2 cmake --install "$build" --prefix "$other" >/dev/null
for u in "$stage2$other"/lib/systemd/system/*.service; do
    [ -f "$u" ] || fail "--prefix $other: no units under $other/lib/systemd/system"
    if grep -n -E "(^|[= ])($prefix/bin|$sysconfdir/planwatch)/" "$u"; then
        fail "--prefix $other: $(basename "$u") names the configured prefix $prefix"
    fi
    grep -q "^ExecStart=$other/bin/planwatch .*--config $other_etc/planwatch/" "$u" ||
        fail "--prefix $other: $(basename "$u"): ExecStart= not $other/bin/planwatch with $other_etc/planwatch"
done
[ -f "$stage2$other_etc/planwatch/aggregator.conf" ] ||
    fail "--prefix $other: configs not in $other_etc/planwatch"
# ... and its binary reads the catalog installed with it: spoilt here, the
# default catalog must fail --check-config, naming that file.
cat2=$stage2$other/share/planwatch/wuhan/catalog.conf
echo "not a catalog line" >>"$cat2"
if (unset PLANWATCH_DATA; "$stage2$other/bin/planwatch" aggregator --store "$stage2/store" \
    --insecure --check-config >"$stage2/check.out" 2>&1); then
    fail "--prefix $other: the binary does not read $other/share/planwatch (it passed --check-config)"
fi
grep -q "$stage2$other/.*share/planwatch/wuhan/catalog.conf:" "$stage2/check.out" ||
    fail "--prefix $other: the binary does not read $other/share/planwatch: $(cat "$stage2/check.out")"
echo "check-install: $(find "$stage" -type f | wc -l) files installed, units verified"
