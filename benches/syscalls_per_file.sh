#!/usr/bin/env bash
# Syscalls per file of one `cbctl --json organize --no-phash --move` of N
# small JPEGs (the files of benches/organize_scale.sh: a corpus camera photo
# with unique trailing bytes, in 50 folders, dated over MONTHS months,
# default 120), on a fresh state dir, counted with `perf stat` tracepoints;
# also the state DB's size after. Shows which per-file cost grows with N
# (issue 17 item 6: SQLite's page reads and writes did).
# Usage: benches/syscalls_per_file.sh [N]   (default 20000; needs perf, root)
# BIN=path/to/cbctl skips the build. Data under /var/tmp, deleted at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-20000}
MONTHS=${MONTHS:-120}
[ -n "${BIN:-}" ] || cargo build --release --quiet
BIN=${BIN:-target/release/cbctl}
command -v perf >/dev/null || { echo "perf is not installed (apt-get install linux-perf)" >&2; exit 2; }
w=$(mktemp -d /var/tmp/cb-sysc.XXXXXX)
trap 'rm -rf "$w"' EXIT
python3 benches/gen_small.py "$w/src" "$n" ../shared/corpus/exif-samples/jpg/Canon_40D.jpg 50 "$MONTHS"
sync
events=task-clock
for s in pread64 pwrite64 fsync fdatasync renameat2 openat newfstatat statx read write mkdirat getdents64; do
    events+=",syscalls:sys_enter_$s"
done
perf stat -x, -e "$events" -o "$w/perf.txt" \
    "$BIN" --state-dir "$w/state" --json organize --no-phash "$w/src" "$w/lib" >/dev/null 2>&1 || true
echo "organize --move of $n small JPEGs over $MONTHS month folders, per file:"
awk -F, -v n="$n" '/^[0-9]/ {printf "  %-36s %12s  %8.3f\n", $3, $1, $1 / n}' "$w/perf.txt"
echo "  state DB: $(du -m "$w/state/clean-backup.db" | cut -f1) MiB"
