#!/usr/bin/env bash
# Throughput of `cbctl organize` (release build) on generated photo sets:
#   - N small JPEGs (a corpus camera photo with unique trailing bytes), move, same filesystem
#   - the same, copy mode
#   - the corpus's large phone/camera JPEGs (1.5-4.5 MB) x copies, move across filesystems (/dev/shm -> disk)
#   - the corpus's distinct large JPEGs, move with the perceptual duplicate checks on (the default)
#   - `cbctl date` over every corpus file
# The generated sets are copies of a few photos made unique by trailing bytes,
# so they run with --no-phash (else all but one per photo are "the same picture").
# Usage: benches/organize.sh [N]   (default N=2000). Prints one line per case.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-2000}
CORPUS=../shared/corpus
[ -n "${BIN:-}" ] || cargo build --release --quiet
BIN=${BIN:-target/release/cbctl}
work=$(mktemp -d /var/tmp/cb-bench.XXXXXX)
trap 'rm -rf "$work" /dev/shm/cb-bench-*' EXIT

gen_small() { # dir count
  python3 benches/gen_small.py "$1" "$2" "$CORPUS/exif-samples/jpg/Canon_40D.jpg"
}

timeit() { # label files bytes cmd...
  local label=$1 files=$2 bytes=$3; shift 3
  sync
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >/dev/null 2>&1 || true
  t1=$(date +%s.%N)
  python3 -c "import sys; t=float(sys.argv[2])-float(sys.argv[1]); f=int(sys.argv[3]); b=int(sys.argv[4]); print(f'{sys.argv[5]:<48} {f:>6} files {b/1e6:8.1f} MB {t:7.2f} s {f/t:8.0f} files/s {b/1e6/t:7.1f} MB/s')" "$t0" "$t1" "$files" "$bytes" "$label"
}

gen_small "$work/small" "$N"
bytes=$(du -sb "$work/small" | cut -f1)
timeit "organize --move, $N small JPEGs, same fs" "$N" "$bytes" "$BIN" --state-dir "$work/st1" --json organize --no-phash "$work/small" "$work/lib1"
mv "$work/lib1" "$work/small2"
timeit "organize --copy, $N small JPEGs, same fs" "$N" "$bytes" "$BIN" --state-dir "$work/st2" --json organize --no-phash --copy "$work/small2" "$work/lib2"

big=/dev/shm/cb-bench-big
mkdir -p "$big"
# 5 distinct copies of each large corpus JPEG (unique bytes after EOI), so none is a duplicate.
python3 - "$big" "$CORPUS"/metadata-extractor/jpg/*.jpg <<'PY'
import os, sys
out, files = sys.argv[1], sys.argv[2:]
for rep in range(5):
    d = os.path.join(out, f"r{rep}")
    os.makedirs(d, exist_ok=True)
    for f in files:
        open(os.path.join(d, os.path.basename(f)), "wb").write(open(f, "rb").read() + f"rep {rep}".encode())
PY
count=$(find "$big" -type f | wc -l)
bytes=$(du -sb "$big" | cut -f1)
timeit "organize --move, $count large JPEGs, /dev/shm -> disk" "$count" "$bytes" "$BIN" --state-dir "$work/st3" --json organize --no-phash "$big" "$work/lib3"

distinct="$work/distinct"
mkdir -p "$distinct"
cp "$CORPUS"/metadata-extractor/jpg/*.jpg "$distinct"/
count=$(find "$distinct" -type f | wc -l)
bytes=$(du -sb "$distinct" | cut -f1)
timeit "organize --move with pHash checks, $count distinct large JPEGs" "$count" "$bytes" "$BIN" --state-dir "$work/st4" --json organize "$distinct" "$work/lib4"

mapfile -t all < <(tail -n +2 "$CORPUS/MANIFEST.tsv" | cut -f1 | sed "s|^|$CORPUS/|")
bytes=$(cat "${all[@]}" | wc -c)
timeit "date, every corpus file" "${#all[@]}" "$bytes" "$BIN" --json date "${all[@]}"

# The peer tool people use for this job: exiftool moving files by DateTimeOriginal
# (no journal, no duplicate check, no verify). Same 2000-file set, same filesystem.
if command -v exiftool >/dev/null; then
  gen_small "$work/peer" "$N"
  bytes=$(du -sb "$work/peer" | cut -f1)
  timeit "exiftool -r '-Directory<DateTimeOriginal', $N small JPEGs" "$N" "$bytes" exiftool -q -r -d "$work/peerlib/%Y/%m" '-Directory<DateTimeOriginal' "$work/peer"
fi
