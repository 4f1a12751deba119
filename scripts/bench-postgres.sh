#!/bin/sh
# bench-postgres.sh measures PostgreSQL and Liege on this machine with the
# same transaction and prints one table of the figures and their ratios
# (issue 14, item 2). Not part of .ci/run: it takes minutes and its
# figures depend on the machine.
#
# The ticket transaction: read a seat that is absent, insert the seat,
# insert its owner (two rows of --value-size bytes of payload each).
#
#   PostgreSQL  a throw-away cluster in a temporary directory (fsync,
#               synchronous_commit and full_page_writes on; unix socket
#               only), pgbench running the transaction SERIALIZABLE at
#               1, 16, 64 and 256 clients for --seconds each (a
#               serialization failure is retried, up to 10 tries);
#   Liege       `liege bench http` (kv set over HTTP on loopback, 256
#               clients, the best of its modes) and `liege bench commit`
#               (the engine in process, 256 callers), in this run.
#
# Goals: Liege over HTTP >= 5x PostgreSQL's best, in process >= 15x.
#
# PostgreSQL comes from the distribution's packages: when initdb, pg_ctl,
# postgres or pgbench is missing, the script installs Debian's postgresql
# package (apt-get update first; root or passwordless sudo), without
# starting the distribution's own cluster. As root, the cluster runs as the
# postgres user (initdb refuses root).
#
# Usage: scripts/bench-postgres.sh [--seconds N] [--clients "1 16 64 256"]
#          [--value-size BYTES] [--liege PATH] [--pg-only] [--keep]
# --liege names a liege binary (default: built from this checkout);
# --pg-only measures PostgreSQL alone.
# Progress goes to stderr, the table to stdout.

set -eu

me=bench-postgres.sh
seconds=15
clients="1 16 64 256"
value_size=100
liege=""
keep=false
pg_only=false
while [ $# -gt 0 ]; do
	case "$1" in
	--seconds) seconds=$2; shift 2 ;;
	--clients) clients=$2; shift 2 ;;
	--value-size) value_size=$2; shift 2 ;;
	--liege) liege=$2; shift 2 ;;
	--keep) keep=true; shift ;;
	--pg-only) pg_only=true; shift ;;
	-h|--help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "$me: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done

say() { echo "$me: $*" >&2; }
die() { say "$*"; exit 1; }

command -v jq >/dev/null 2>&1 || die "jq is needed to read liege bench's --json: apt-get install jq"

# --- PostgreSQL binaries ---------------------------------------------------

pgbin=""
find_pg() {
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -n -r); do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ] && [ -x "$d/pgbench" ]; then
			pgbin=$d
			return 0
		fi
	done
	if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 &&
		command -v postgres >/dev/null 2>&1 && command -v pgbench >/dev/null 2>&1; then
		pgbin=$(dirname "$(command -v initdb)")
		return 0
	fi
	return 1
}

if ! find_pg; then
	if [ "$(id -u)" = 0 ]; then
		as_root=""
	elif command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then
		as_root="sudo -n"
	else
		die "PostgreSQL is not installed and this user cannot install it: apt-get install postgresql, then run again"
	fi
	command -v apt-get >/dev/null 2>&1 || die "PostgreSQL is not installed and there is no apt-get: install PostgreSQL (initdb, pg_ctl, postgres, pgbench), then run again"
	say "installing Debian's postgresql package"
	$as_root apt-get update -qq >&2 || say "apt-get update failed; trying the package lists at hand"
	# Keep the install from starting the distribution's cluster:
	# invoke-rc.d asks policy-rc.d, and 101 means "not allowed".
	policy=/usr/sbin/policy-rc.d
	made_policy=false
	if [ ! -e "$policy" ] && $as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy" 2>/dev/null; then
		made_policy=true
	fi
	status=0
	$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >&2 || status=$?
	if $made_policy; then
		$as_root rm -f "$policy"
	fi
	[ "$status" = 0 ] || die "apt-get could not install postgresql"
	find_pg || die "installed postgresql but found no initdb, pg_ctl, postgres and pgbench"
fi
pgversion=$("$pgbin/postgres" --version | sed 's/^[^0-9]*\([0-9][0-9.]*\).*/\1/')
say "PostgreSQL $pgversion from $pgbin"

# --- the throw-away cluster ------------------------------------------------

tmp=$(mktemp -d "${TMPDIR:-/tmp}/liege-bench-pg.XXXXXX")
run_pg=""
if [ "$(id -u)" = 0 ]; then
	id postgres >/dev/null 2>&1 || die "running as root, but there is no postgres user to run the cluster as"
	chown postgres "$tmp"
	run_pg="runuser -u postgres --"
fi
pg() { $run_pg "$@"; }
data=$tmp/data
port=54329
started=false
cleanup() {
	if $started; then
		pg "$pgbin/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	if $keep; then
		say "kept $tmp"
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT INT TERM

say "initdb in $data"
pg "$pgbin/initdb" -D "$data" -U bench -A trust -E UTF8 --no-locale >"$tmp/initdb.log" 2>&1 ||
	die "initdb failed: $(tail -5 "$tmp/initdb.log")"
pg sh -c "cat >> '$data/postgresql.conf'" <<EOF
# bench-postgres.sh: durable, local, enough connections
fsync = on
synchronous_commit = on
full_page_writes = on
# SERIALIZABLE with 256 clients needs more predicate locks than the
# default, and a larger RWConflictPool, which grows with max_connections
max_connections = 1000
max_pred_locks_per_transaction = 1024
shared_buffers = 256MB
listen_addresses = ''
unix_socket_directories = '$tmp'
port = $port
EOF
pg "$pgbin/pg_ctl" -D "$data" -l "$tmp/postgres.log" -w -t 60 start >/dev/null || die "the cluster did not start: $(tail -5 "$tmp/postgres.log")"
started=true
psql_() { pg "$pgbin/psql" -X -q -v ON_ERROR_STOP=1 -h "$tmp" -p "$port" -U bench "$@"; }
psql_ -d postgres -c "CREATE DATABASE bench" >/dev/null
for s in fsync synchronous_commit full_page_writes; do
	say "  $s = $(psql_ -d bench -At -c "SHOW $s")"
done

pad=$(printf '%*s' "$value_size" '' | tr ' ' '.')
cat > "$tmp/ticket.sql" <<EOF
\set seat random(1, 1000000000000000)
\set ev random(0, 3)
\set cust random(0, 4095)
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT owner FROM seats WHERE event = 'event-' || :ev AND seat = :seat;
INSERT INTO seats (event, seat, owner) VALUES ('event-' || :ev, :seat, left('owner=customer-' || :cust || '$pad', $value_size));
INSERT INTO owners (customer, seat, event) VALUES ('customer-' || :cust, :seat, left('event=event-' || :ev || '$pad', $value_size));
COMMIT;
EOF
chmod a+r "$tmp/ticket.sql"

best_tps=0
best_clients=0
pg_rows=""
for n in $clients; do
	psql_ -d bench >/dev/null <<EOF
SET client_min_messages = warning;
DROP TABLE IF EXISTS seats, owners;
CREATE TABLE seats (event text, seat bigint, owner text, PRIMARY KEY (event, seat));
CREATE TABLE owners (customer text, seat bigint, event text, PRIMARY KEY (customer, seat));
CHECKPOINT;
EOF
	threads=$(( n < 2 ? 1 : 2 ))
	say "pgbench: ticket transaction, $n clients, ${seconds}s"
	pg "$pgbin/pgbench" -n -h "$tmp" -p "$port" -U bench -f "$tmp/ticket.sql" -c "$n" -j "$threads" -T "$seconds" \
		-M prepared --max-tries=10 bench >"$tmp/pgbench-$n.log" 2>&1 ||
		die "pgbench with $n clients failed: $(grep -m 3 -i 'error' "$tmp/pgbench-$n.log") ... $(tail -3 "$tmp/pgbench-$n.log")"
	tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$tmp/pgbench-$n.log" | head -1)
	failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$tmp/pgbench-$n.log" | head -1)
	retried=$(sed -n 's/^number of transactions retried: \([0-9]*\).*/\1/p' "$tmp/pgbench-$n.log" | head -1)
	[ -n "$tps" ] || die "no tps in the pgbench output: $(cat "$tmp/pgbench-$n.log")"
	say "  $tps tps (failed ${failed:-0}, retried ${retried:-0})"
	pg_rows="$pg_rows$n $tps ${failed:-0} ${retried:-0}
"
	if awk -v a="$tps" -v b="$best_tps" 'BEGIN { exit !(a > b) }'; then
		best_tps=$tps
		best_clients=$n
	fi
done
pg "$pgbin/pg_ctl" -D "$data" -m fast -w stop >/dev/null
started=false

if $pg_only; then
	echo "$pg_rows" | awk 'NF { printf "PostgreSQL %s clients: %s tps (%s retried, %s failed)\n", $1, $2, $4, $3 }'
	exit 0
fi

# --- Liege -------------------------------------------------------------------

if [ -z "$liege" ]; then
	root=$(cd "$(dirname "$0")/.." && pwd)
	liege=$tmp/liege
	say "building liege from $root"
	(cd "$root" && go build -o "$liege" ./cmd/liege) || die "go build ./cmd/liege failed"
fi
say "liege bench http (1/16/256 clients, single and batch; a few minutes)"
# bench http's own defaults for --calls and --engine-txns, so that the
# ratio_256 printed below is the figure `liege bench http` gives alone
# (shorter runs gave 0.49 where the default gave 0.61-0.64 the same hour).
"$liege" bench http --clients 1,16,256 --value-size "$value_size" --json >"$tmp/http.json" ||
	die "liege bench http failed"
say "liege bench commit (256 callers, commit only)"
"$liege" bench commit --callers 256 --txns 200000 --no-raw --replay-records 0 --rollback-records 0 --memory-keys 0 \
	--value-size "$value_size" --json >"$tmp/commit.json" || die "liege bench commit failed"

# The best HTTP row at 256 clients, and the engine's 256-caller figure.
http=$(jq -r '[.http[] | select(.clients == 256)] | max_by(.calls_per_sec) | "\(.calls_per_sec) \(.mode)"' "$tmp/http.json")
http_cps=${http% *}
http_mode=${http#* }
inproc=$(jq -r '.commit[] | select(.callers == 256) | .engine.txn_per_sec' "$tmp/commit.json")
ratio_256=$(jq -r '.ratio_256' "$tmp/http.json")

# --- the table ---------------------------------------------------------------

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -1)
echo "MACHINE  $(nproc) cores, ${cpu:-unknown CPU}, $(uname -sr); load average now $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
echo "         temporary files in ${TMPDIR:-/tmp} ($(df -P "${TMPDIR:-/tmp}" | awk 'NR==2 { print $1 }'))"
echo
echo "TICKET TRANSACTION  read an absent seat, insert the seat, insert its owner ($value_size-byte values), durable"
printf '%-58s %14s %9s\n' "what" "per second" "ratio"
echo "$pg_rows" | while read -r n tps failed retried; do
	[ -n "$n" ] || continue
	printf '%-58s %14s %9s\n' "PostgreSQL $pgversion pgbench SERIALIZABLE, $n clients" "$tps tps" "" 
	[ "$failed" = 0 ] && [ "$retried" = 0 ] || printf '%-58s\n' "  ($retried retried, $failed failed after 10 tries)"
done
printf '%-58s %14s %9s\n' "PostgreSQL best ($best_clients clients)" "$best_tps tps" "1.0x"
awk -v h="$http_cps" -v p="$best_tps" -v m="$http_mode" -v i="$inproc" 'BEGIN {
	printf "%-58s %14s %8.1fx  goal >= 5x: %s\n", "Liege over HTTP, kv set, 256 clients (" m ")", sprintf("%.0f calls", h), h / p, (h / p >= 5 ? "met" : "missed")
	printf "%-58s %14s %8.1fx  goal >= 15x: %s\n", "Liege in process, ticket, 256 callers", sprintf("%.0f txn", i), i / p, (i / p >= 15 ? "met" : "missed")
}'
echo
echo "liege bench http ratio_256 (HTTP over in process, same run): $ratio_256"
