#!/usr/bin/env bash
# The `calls` bench's shared groups on several code layouts of one source tree.
#
# Why: a ratio read off one build mixes the code's cost with that build's layout luck (where
# each hot loop and call falls against cache lines, fetch blocks and branch-predictor slots).
# Here the same source, built once per seed, moved a kind's ratio by up to 10% (benches/
# RESULTS.md, session 7). This script links the bench N+1 times: seed 0 is the normal link, and
# seeds 1..N shuffle the order of every function (each is its own section; LLD's
# `--shuffle-sections`, rustc's default linker on x86_64 Linux), so every contender's code,
# ours and the raw anchors' call sites alike, lands at other addresses. glibc's own code is in
# libc.so and is not moved: the anchor is glibc as shipped.
#
# Then it runs every build PASSES times, the builds in a rotating order, and prints per
# contender the ratio to its group's raw anchor (each run's median of per-round ratios): per
# layout (the median over passes), then over the layouts: the mean (the expected ratio of a
# build whose layout is drawn at random), the median, the lowest and the highest; and the mean
# time over all runs, with its ratio to the anchor's mean time (both sides averaged over
# layouts).
#
#   benches/layouts.sh [SEEDS] [PASSES] [ROUNDS] [GROUPS] [OTHER_TREE...]
#   benches/layouts.sh 8 3 100 shared_normal,shared_errorcheck,shared_recursive,pi_shared
#   benches/layouts.sh 20 3 80 shared_normal,shared_recursive /work/exp1 /work/exp2
#
# With OTHER_TREEs (copies of this repository with a change to measure), each is built the
# same way (its own copy of this script, PASSES 0), and every run of a layout here is followed
# by the same layout's run of each other tree, so that all the trees see the same machine
# state (a VM's speed drifts by a few % over minutes: two trees run one after the other
# differ by that much with no change); then one table per tree.
#
# Run it on a quiet machine (about SEEDS x PASSES x 8 s with the default groups, after the
# builds). The raw data is left in target/layouts/runs.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

seeds=${1:-8}
passes=${2:-3}
rounds=${3:-100}
groups=${4:-shared_normal,shared_errorcheck,shared_recursive,pi_shared}
others=("${@:5}")
out=target/layouts
mkdir -p "$out"
rm -f "$out"/calls-* "$out"/runs.txt

for seed in $(seq 0 "$seeds"); do
  flags=()
  if [ "$seed" -ne 0 ]; then
    flags=(-C "link-arg=-Wl,--shuffle-sections=*=$seed")
  fi
  # `cargo rustc` passes the flags to the bench crate alone, so only its link changes.
  bin=$(cargo rustc --quiet --release --bench calls --message-format=json -- "${flags[@]}" |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
  [ -n "$bin" ] || { echo "layouts: no bench binary for seed $seed" >&2; exit 1; }
  cp "$bin" "$out/calls-$seed"
done

# The layouts must differ, or the sweep measures one layout many times.
addr() { nm --demangle "$1" | awk '$3 == "calls::normal_shared_ours" { print $1 }'; }
distinct=$(for seed in $(seq 0 "$seeds"); do addr "$out/calls-$seed"; done | sort -u | wc -l)
echo "layouts: $((seeds + 1)) builds, calls::normal_shared_ours at $distinct distinct addresses"
[ "$distinct" -gt 1 ] || [ "$seeds" -eq 0 ] || { echo "layouts: the shuffle moved nothing" >&2; exit 1; }

# Every tree measured: this one, then the others (built by their own copy of the script).
trees=("$PWD")
for other in "${others[@]}"; do
  (cd "$other" && benches/layouts.sh "$seeds" 0 "$rounds" "$groups" >/dev/null)
  rm -f "$other/$out/runs.txt"
  trees+=("$(cd "$other" && pwd)")
done

n=$((seeds + 1))
for pass in $(seq 1 "$passes"); do
  for j in $(seq 0 "$seeds"); do
    seed=$(((j + pass) % n))
    for tree in "${trees[@]}"; do
      "$tree/$out/calls-$seed" --groups "$groups" --rounds "$rounds" |
        awk -v seed="$seed" -v pass="$pass" \
          '$2 ~ /_(ours|raw)$|^mapped_anchor/ && $5 ~ /^[0-9.]+$/ { print seed, pass, $1, $2, $3, $5 }' \
          >>"$tree/$out/runs.txt"
    done
  done
  echo "layouts: pass $pass of $passes done"
done
[ "$passes" -gt 0 ] || exit 0

# Per layout: the median over passes; over layouts: mean, median, min, max. The rows in
# group order under one header; a table per tree.
summary() {
printf "%-18s %-24s %7s %7s %7s %7s %8s %8s   %s\n" group contender mean median min max \
  "ns(mean)" ns/raw "per layout (seed 0 first)"
sort -k4,4 -k1,1n -k6,6g "$1" | awk '
  function flush_layout() {
    if (k == 0) return
    med = (k % 2) ? r[(k + 1) / 2] : (r[k / 2] + r[k / 2 + 1]) / 2
    lay[name, ++nl[name]] = med
    per[name] = per[name] sprintf(" %.3f", med)
    k = 0
  }
  {
    if ($4 != name || $1 != seed) { flush_layout() }
    if ($4 != name) { order[++names] = $4; group[$4] = $3 }
    name = $4; seed = $1; r[++k] = $6; ns[name] += $5; nsn[name]++
  }
  END {
    flush_layout()
    for (i = 1; i <= names; i++) {
      c = order[i]
      if (c ~ /_raw$/) { anchor_ns[group[c]] = ns[c] / nsn[c] }
    }
    for (i = 1; i <= names; i++) {
      c = order[i]; m = nl[c]; s = 0
      for (j = 1; j <= m; j++) { v[j] = lay[c, j]; s += v[j] }
      # sort v[1..m]
      for (a = 2; a <= m; a++) { x = v[a]; b = a - 1; while (b >= 1 && v[b] > x) { v[b + 1] = v[b]; b-- } v[b + 1] = x }
      med = (m % 2) ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2
      printf "%-18s %-24s %7.3f %7.3f %7.3f %7.3f %8.2f %8.3f  %s\n", group[c], c, s / m, med, v[1], \
        v[m], ns[c] / nsn[c], ns[c] / nsn[c] / anchor_ns[group[c]], per[c]
    }
  }' | sort -s -k1,1
}
for tree in "${trees[@]}"; do
  [ "${#trees[@]}" -eq 1 ] || echo "== $tree"
  summary "$tree/$out/runs.txt"
done
