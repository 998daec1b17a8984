#!/usr/bin/env bash
# PostgreSQL, unmodified, on ushm: its main shared memory and its dynamic
# shared memory (segments made and removed per parallel query, attached
# by forked workers) in SysV segments.  Parallel queries give the right
# answer, a clean stop removes every segment, and the kernel's table is
# never used.  Runs as the postgres user, as PostgreSQL insists.
. "$(dirname "$0")/lib.sh"
time_bound 600 # the whole test (lib.sh: the watchdog)
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | tail -n 1)
[ -x "$PGBIN/initdb" ] || skip_all "PostgreSQL is not installed"
[ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1 ||
	skip_all "needs root and a postgres user"
runuser -u postgres -- test -x "$USHM_RUN" ||
	skip_all "the postgres user cannot reach $USHM_RUN"
ushm_env_setup
chown postgres "$USHM_TEST_DIR"
D=$USHM_TEST_DIR
PORT=$(( 20000 + $$ % 10000 ))

as_pg() {
	runuser -u postgres -- env USHM_SOCKET="$USHM_SOCKET" \
		USHM_STATE_DIR="$USHM_STATE_DIR" USHM_DAEMON="$USHMD" "$@"
}
sql() { as_pg psql -h "$D" -p "$PORT" -d postgres -Atc "$1"; }
segments() { as_pg "$USHM" ls | awk '$2 ~ /^[0-9]+$/' | wc -l; }
SERVED_VIA=as_pg # the counters of the postgres user's daemon

# Whatever happens, no server outlives the test.
pg_cleanup() {
	as_pg "$PGBIN/pg_ctl" -D "$D/data" -m immediate stop >/dev/null 2>&1
	ushm_env_cleanup
}
at_exit pg_cleanup
as_pg "$PGBIN/initdb" -D "$D/data" >"$D/initdb.log" 2>&1
ok $? "initdb"
cat >>"$D/data/postgresql.conf" <<CONF
shared_memory_type = sysv
dynamic_shared_memory_type = sysv
max_parallel_workers_per_gather = 2
parallel_setup_cost = 0
parallel_tuple_cost = 0
min_parallel_table_scan_size = 0
port = $PORT
unix_socket_directories = '$D'
listen_addresses = ''
CONF
kernel_before=$(ipcs -m | grep -c postgres)
as_pg "${USHM_RUN_CMD[@]}" "$PGBIN/pg_ctl" -D "$D/data" -l "$D/log" -w start \
	>/dev/null
ok $? "the server starts under ushm-run"
ok $([ "$(segments)" -ge 2 ]; echo $?) "its segments are ushm's"
served_mark

sql "create table t as select g from generate_series(1, 200000) g;
     analyze t" >/dev/null
plan=$(sql "explain (costs off) select count(*) from t")
ok $(echo "$plan" | grep -q "Workers Planned: 2"; echo $?) \
	"the query runs in parallel workers"
fails=0
for _ in $(seq 10); do
	[ "$(sql 'select count(*), sum(g) from t')" = "200000|20000100000" ] ||
		fails=$((fails + 1))
done
is "$fails" "0" "ten parallel queries give the right answer"
# Each parallel query makes a dynamic segment, its workers attach it.
served_at_least shmget 10 "the queries' shmgets went to ushm"
served_at_least shmat 20 "and their workers' shmats"

as_pg "${USHM_RUN_CMD[@]}" "$PGBIN/pg_ctl" -D "$D/data" -w stop >/dev/null
ok $? "the server stops"
is "$(segments)" "0" "and leaves no segment behind"
is "$(ipcs -m | grep -c postgres)" "$kernel_before" "the kernel's table was never used"
done_testing
