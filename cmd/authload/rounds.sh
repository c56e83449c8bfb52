#!/bin/sh
# rounds.sh: re-measure the region node under load (docs/benchmarks.md,
# "regionnode under load"). Each round starts a fresh node on a fresh data
# directory, runs authload's setup, 1 s of warm-up and 5 s measured, and
# prints one line: load average, node binary, req/s, p50/p99, commits/s and
# their p99, server and generator CPU per request, and the estimate for
# both on 2 idle cores. With two node binaries the rounds interleave them.
#
#   go build -o /tmp/rn.after ./cmd/regionnode && go build -o /tmp/authload ./cmd/authload
#   cmd/authload/rounds.sh -n 3 -a /tmp/authload /tmp/rn.after [/tmp/rn.before] -- --conns 32 [--commit-rate 1000]
#
# Flags after -- go to authload. PORT (default 18080) is the node's API port.
set -eu
rounds=3
load=authload
while getopts n:a: f; do
	case $f in
	n) rounds=$OPTARG ;;
	a) load=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
nodes=""
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
	nodes="$nodes $1"
	shift
done
[ $# -gt 0 ] && shift
port=${PORT:-18080}
[ -n "$nodes" ] || { echo "usage: rounds.sh [-n rounds] [-a authload] NODEBIN... [-- authload flags]" >&2; exit 2; }
r=0
while [ $r -lt "$rounds" ]; do
	r=$((r + 1))
	for node in $nodes; do
		dir=$(mktemp -d)
		"$node" --region eu-west-1 --http 127.0.0.1:$port --data-dir "$dir" --gossip-preset local \
			--log-level warn --expect-peers=false >"$dir/log" 2>&1 &
		pid=$!
		i=0
		until curl -sf 127.0.0.1:$port/healthz >/dev/null; do
			i=$((i + 1))
			[ $i -lt 100 ] || { echo "node did not start: $(cat "$dir/log")" >&2; kill $pid; exit 1; }
			sleep 0.1
		done
		la=$(cut -d' ' -f1 /proc/loadavg)
		out=$(timeout 120 "$load" --addr 127.0.0.1:$port --warmup 1s --duration 5s --pid $pid --json "$@" || true)
		kill $pid
		wait $pid 2>/dev/null || true
		rm -rf "$dir"
		printf '%s' "$out" | python3 -c '
import json, sys
la, node = sys.argv[1], sys.argv[2]
s = json.load(sys.stdin)
c = s.get("commits") or {}
sv = s.get("server") or {}
g = s.get("generator") or {}
print("load %5s  %-22s %7.0f req/s  p50 %5.2f  p99 %6.2f ms  commits %5.0f/s p99 %7.1f ms  server %5.1f us  generator %4.1f us  both on 2 idle cores ~%6.0f req/s" % (
    la, node, s["requests_per_second"], s["p50_ms"], s["p99_ms"], c.get("per_second", 0), c.get("p99_ms", 0),
    sv.get("cpu_us_per_request", 0), g.get("cpu_us_per_request", 0), g.get("estimated_rps_on_2_idle_cores_with_server", 0)))
' "$la" "$(basename "$node")"
	done
done
