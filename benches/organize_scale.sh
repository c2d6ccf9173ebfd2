#!/usr/bin/env bash
# Does `cbctl organize --move` cost grow linearly (issue 17 item 6)? Times
# the move of N small JPEGs (a corpus camera photo with unique trailing
# bytes, in 50 folders; --no-phash, as benches/organize.sh, since they are
# one picture) for a small and a ten-times-larger N on a fresh state dir,
# and exits 1 when the larger costs more than 11x the smaller. The files are
# dated over MONTHS months (default 120: ten years, so filed into 120 folders
# as a real library is); MONTHS=1 files them all into one folder, the worst
# case for the filesystem (a 200,000-entry folder).
# Usage: benches/organize_scale.sh [SMALL [LARGE]]   (default 20000 200000)
# BIN=path/to/cbctl skips the build. Data under /var/tmp, deleted at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
SMALL=${1:-20000}
MONTHS=${MONTHS:-120}
LARGE=${2:-$((SMALL * 10))}
CORPUS=../shared/corpus
[ -n "${BIN:-}" ] || cargo build --release --quiet
BIN=${BIN:-target/release/cbctl}
work=$(mktemp -d /var/tmp/cb-oscale.XXXXXX)
trap 'rm -rf "$work"' EXIT

run() { # N -> seconds on stdout, a line on stderr
  local n=$1 src=$work/src-$1 lib=$work/lib-$1
  python3 benches/gen_small.py "$src" "$n" "$CORPUS/exif-samples/jpg/Canon_40D.jpg" 50 "$MONTHS"
  sync
  local t0 t1
  t0=$(date +%s.%N)
  "$BIN" --state-dir "$work/state-$n" --json organize --no-phash "$src" "$lib" >"$work/out-$n.json" 2>&1 || true
  t1=$(date +%s.%N)
  local filed
  filed=$(tail -n 1 "$work/out-$n.json" | python3 -c 'import json, sys; print(json.load(sys.stdin).get("filed", "?"))' 2>/dev/null || echo "?")
  python3 -c "import sys; t = float(sys.argv[2]) - float(sys.argv[1]); n = int(sys.argv[3]); print(f'organize --move {n:>7} small JPEGs: {t:7.2f} s, {n / t:6.0f} files/s, {sys.argv[4]} filed', file=sys.stderr); print(f'{t:.3f}')" "$t0" "$t1" "$n" "$filed"
  rm -rf "$src" "$lib" "$work/state-$n"
}

small_s=$(run "$SMALL")
large_s=$(run "$LARGE")
ratio=$(python3 -c "print(f'{$large_s / $small_s:.2f}')")
echo "$LARGE files cost ${ratio}x what $SMALL cost, over $MONTHS month folders (limit $((LARGE / SMALL + 1))x, issue 17: <= 11x for 10x the files)"
python3 -c "import sys; sys.exit(0 if $large_s / $small_s <= ($LARGE / $SMALL) * 1.1 else 1)" || { echo "REGRESSION: organize grows faster than linearly" >&2; exit 1; }
