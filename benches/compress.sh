#!/usr/bin/env bash
# `cbctl compress` on the corpus's JPEG and PNG files (the set Pillow can
# also do), per level, on one core and on all cores; then the same files
# through Pillow at the same qualities (benches/pillow_compress.py).
# Usage: benches/compress.sh   (needs ../shared/corpus; python3-venv for Pillow)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
work=$(mktemp -d /var/tmp/cb-compress.XXXXXX)
trap 'rm -rf "$work"' EXIT
corpus=$(cd ../shared/corpus && pwd)
awk -F'\t' 'NR>1 && ($4=="image/jpeg" || $4=="image/png") {print $1}' "$corpus/MANIFEST.tsv" | while read -r f; do
  mkdir -p "$work/src/$(dirname "$f")"
  cp "$corpus/$f" "$work/src/$f"
done
echo "files: $(find "$work/src" -type f | wc -l), bytes: $(du -sb "$work/src" | cut -f1), cores: $(nproc)"
printf '%-6s %-5s %8s %12s %12s %8s %9s %9s\n' level jobs files original output saved% seconds images/s
for level in 1 2 3; do
  for jobs in 1 "$(nproc)"; do
    out="$work/out-$level-$jobs"
    start=$(date +%s.%N)
    target/release/cbctl --json compress --images --level "$level" --jobs "$jobs" "$work/src" "$out" | tail -1 > "$work/s.json" || true
    end=$(date +%s.%N)
    python3 - "$work/s.json" "$level" "$jobs" "$start" "$end" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); secs = float(sys.argv[5]) - float(sys.argv[4])
print(f"{sys.argv[2]:<6} {sys.argv[3]:<5} {s['processed']:>8} {s['original_bytes']:>12} {s['compressed_bytes']:>12} "
      f"{s['saved_percent']:>8.1f} {secs:>9.2f} {s['processed']/secs:>9.1f}   (compressed {s['compressed']}, kept {s['kept']}, errors {s['errors']})")
PY
  done
done
if [ ! -x /tmp/pillow-venv/bin/python ]; then
  python3 -m venv /tmp/pillow-venv && /tmp/pillow-venv/bin/pip install -q pillow
fi
for q in 95 85 75; do
  /tmp/pillow-venv/bin/python benches/pillow_compress.py --quality "$q" --corpus "$corpus"
done
