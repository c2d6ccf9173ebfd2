#!/usr/bin/env bash
# First index of a folder of real-size photos (issue 17, "First index of a
# big library"): N JPEGs copied from the corpus's 1.5 MB+ phone photos, each
# made distinct by bytes after its EOI (so every file is distinct but costs
# the same to decode), indexed by `cbctl dedup --local` on a fresh state dir
# (pHash and all, report only) and, in the same run, by `czkawka_cli image
# --disable-cache` on the same folder. Prints files/s, MB/s and CPU use
# ((user + sys) / wall / cores); then the resume check: an index killed
# with SIGKILL halfway, run again, reads only the files it had not stored.
# Usage: benches/first_index.sh [N]   (default 2000; ~2.5 MB each)
# CZKAWKA: the czkawka_cli binary (default: on PATH, or /work/tools/bin).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-2000}
[ -n "${NO_BUILD:-}" ] || cargo build --release --quiet
bin=$(realpath "${CARGO_TARGET_DIR:-target}/release/cbctl")
czk=${CZKAWKA:-$(command -v czkawka_cli || echo /work/tools/bin/czkawka_cli)}
corpus=../shared/corpus
work=$(mktemp -d /var/tmp/cb-first.XXXXXX)
trap 'rm -rf "$work"' EXIT
cores=$(nproc)
python3 - "$corpus" "$work/photos" "$N" <<'PY'
import os, sys
corpus, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
srcs = []
for root, _, files in os.walk(corpus):
    for f in files:
        p = os.path.join(root, f)
        if f.lower().endswith(".jpg") and os.path.getsize(p) > 1_500_000 and "corrupt" not in f and "Error" not in f:
            srcs.append(p)
srcs.sort()
data = [open(p, "rb").read() for p in srcs]
for i in range(n):
    d = os.path.join(out, f"{i // 500:03d}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"IMG_{i:06d}.jpg"), "wb") as f:
        f.write(data[i % len(data)] + b"distinct %d" % i)
os.sync()
PY
bytes=$(du -sb "$work/photos" | cut -f1)
mb=$(python3 -c "print(f'{$bytes / 1e6:.0f}')")
echo "$N photos, $mb MB, $cores cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
run() { # name, command...
    local name=$1
    shift
    sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
    /usr/bin/time -f "%e %U %S %M" -o "$work/time" "$@" >"$work/out" 2>"$work/err" || true
    read -r wall user sys kb < <(tail -n 1 "$work/time")
    python3 -c "
w, u, s = $wall, $user, $sys
print(f'| $name | {w:.1f} | {$N / w:.0f} | {$bytes / 1e6 / w:.0f} | {100 * (u + s) / w / $cores:.0f}% | {$kb / 1024:.0f} |')"
}
echo "| indexer | wall (s) | files/s | MB/s | CPU of $cores cores | peak RSS (MiB) |"
echo "|---|---:|---:|---:|---:|---:|"
run "cbctl dedup --local (fresh state dir)" "$bin" --state-dir "$work/st" --json dedup --local "$work/photos"
half=$(tail -n 1 "$work/time" | awk '{h = $1 * 0.6; print (h < 2.6 ? 2.6 : h)}')
if [ -x "$czk" ]; then
    run "czkawka_cli image --disable-cache" "$czk" image --disable-cache -d "$work/photos" -f "$work/czk.txt"
else
    echo "| czkawka_cli image: not installed (cargo install czkawka_cli), not run | | | | | |"
fi
# Resume: killed halfway, then run again on the same state dir.
rm -rf "$work/st2"
"$bin" --state-dir "$work/st2" --json dedup --local "$work/photos" >/dev/null 2>&1 &
pid=$!
sleep "$half"
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
"$bin" --state-dir "$work/st2" --json dedup --local "$work/photos" >"$work/resume.json" 2>/dev/null || true
tail -n 1 "$work/resume.json" | python3 -c '
import json, sys
s = json.load(sys.stdin)["index"]
kept, read, files = s["unchanged"], s["added"], s["files"]
print(f"resume after kill -9: {kept} files kept from before the kill, {read} read after it (of {files})")
if s["unchanged"] == 0:
    sys.exit("REGRESSION: nothing stored before the kill was kept")'
