#!/usr/bin/env bash
# make bench: every benchmark docs/performance.md quotes, against the local database, each
# reported as a ratio to a baseline measured in the same run. Raw output goes to
# .local/bench/<name>.txt; a summary table is printed at the end.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export TEST_DATABASE_URL="${TEST_DATABASE_URL:-$(scripts/db.sh up | tail -n1)}"
out="$ROOT/.local/bench"
mkdir -p "$out"

run() { # name package bench-regexp benchtime
  local name="$1" pkg="$2" re="$3" bt="$4"
  echo "== $name: go test $pkg -run '^\$' -bench '$re' -benchtime $bt" >&2
  go test "$pkg" -count=1 -run '^$' -bench "$re" -benchtime "$bt" -timeout 30m | tee "$out/$name.txt" >&2
}

run rls          ./sidecar/internal/schematest  'RLS'                                     3s
run records      ./sidecar/internal/schematest  'RecordTriggers'                          3000x
# Latency first: right after a drain benchmark some runs show one 100-180 ms pause
# (docs/performance.md, "Latency"), which is not what a steady state looks like.
run latency      ./sidecar/cmd/sidecar          'SteadyLatency'                           1x
run replication  ./sidecar/cmd/sidecar          'BacklogDrain'                            1x
run email        ./sidecar/internal/emailsend   'BenchmarkOutboxSendGrid|BenchmarkQueueToSentLatency' 2000x
run mediaguard   ./sidecar/internal/mediaguard  'GuardWrites'                             2000x

echo
echo "Summary (custom metrics per benchmark; see docs/performance.md for what each means)"
for f in rls records latency replication email mediaguard; do
  awk -v group="$f" '/^Benchmark/ {
      line = group "  " $1 ":";
      for (i = 3; i < NF; i += 2) if ($(i+1) != "B/op" && $(i+1) != "allocs/op") line = line "  " $i " " $(i+1);
      print line }' "$out/$f.txt"
done
