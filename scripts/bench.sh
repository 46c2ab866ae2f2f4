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

run() { # name package bench-regexp benchtime [count]
  local name="$1" pkg="$2" re="$3" bt="$4" count="${5:-1}"
  echo "== $name: go test $pkg -run '^\$' -bench '$re' -benchtime $bt -count $count" >&2
  go test "$pkg" -count="$count" -run '^$' -bench "$re" -benchtime "$bt" -timeout 60m | tee "$out/$name.txt" >&2
}

# The write path's figures are ratios of two arms measured interleaved, each run three
# times (BENCH_COUNT), as are the drains: the summary gives the median and the range. The *-cpu-* metrics
# are the server processes' CPU (/proc/<pid>/schedstat), steadier than wall time on a
# shared machine.
count="${BENCH_COUNT:-3}"
run rls          ./sidecar/internal/schematest  'RLS'                                     3s    "$count"
run records      ./sidecar/internal/schematest  'RecordTriggers|StatusIndexes'            3000x "$count"
# Latency first: right after a drain benchmark some runs show one 100-180 ms pause
# (docs/performance.md, "Latency"), which is not what a steady state looks like.
run latency      ./sidecar/cmd/sidecar          'SteadyLatency'                           1x
# The drains too (issue 24): changes/s and CPU per 1,000 changes against
# pg_recvlogical's on the same range, as medians of BENCH_COUNT runs.
run replication  ./sidecar/cmd/sidecar          'BacklogDrain'                            1x "$count"
run email        ./sidecar/internal/emailsend   'BenchmarkOutboxSendGrid|BenchmarkQueueToSentLatency' 2000x
run mediaguard   ./sidecar/internal/mediaguard  'GuardWrites'                             2000x "$count"

echo
echo "Summary (custom metrics per benchmark; several runs of one benchmark: median (min-max); see docs/performance.md for what each means)"
for f in rls records latency replication email mediaguard; do
  awk -v group="$f" '
    /^Benchmark/ {
      if (!($1 in runs)) order[++n] = $1
      r = ++runs[$1]
      for (i = 3; i < NF; i += 2) {
        u = $(i+1)
        if (u == "B/op" || u == "allocs/op") continue
        if (!(($1, u) in seen)) { seen[$1, u] = 1; units[$1] = units[$1] " " u }
        v[$1, u, r] = $i
      }
    }
    END {
      for (k = 1; k <= n; k++) {
        b = order[k]; line = group "  " b ":"
        m = split(substr(units[b], 2), us, " ")
        for (j = 1; j <= m; j++) {
          u = us[j]; c = 0
          for (r = 1; r <= runs[b]; r++) if ((b, u, r) in v) x[++c] = v[b, u, r] + 0
          for (p = 2; p <= c; p++) for (q = p; q > 1 && x[q-1] > x[q]; q--) { t = x[q]; x[q] = x[q-1]; x[q-1] = t }
          med = (c % 2) ? x[(c+1)/2] : (x[c/2] + x[c/2+1]) / 2
          line = line "  " u " " (c > 1 ? sprintf("%.4g (%.4g-%.4g)", med, x[1], x[c]) : sprintf("%.4g", med))
        }
        print line
      }
    }' "$out/$f.txt"
done
