#!/usr/bin/env bash
# Scale of clean-backupd and `cbctl dedup` (issue 17, "Bounded memory"):
# for each size N, a synthetic library of N distinct tiny images (16x16
# PNGs of random pixels: distinct bytes and distinct pHashes), written
# straight into lib/YYYY/MM/ folders of 1,000 files each. Then:
#   - the daemon (settle_seconds = 1) gets one warm-up photo: the time until
#     it is filed, minus the settle delay, is its first index of the library;
#   - one new distinct corpus photo is dropped and timed until filed;
#   - peak RSS (VmHWM) and current RSS (VmRSS) of the daemon, state DB size;
#   - the daemon is stopped and `cbctl --json dedup --local` runs over the
#     same library on a fresh state dir (so it indexes itself), timed with
#     its peak RSS from /usr/bin/time -v (or polled /proc when absent).
#   - BURST (default 2000) more distinct PNGs are renamed into the inbox at
#     once: the filing rate with N files in the library (N = 0: empty);
# Exits 1 when the daemon's peak RSS is over 50 MiB (N <= 100,000) or
# 150 MB (1,000,000), or dedup's is over 1 GB.
# Usage: benches/scale_library.sh [SIZES...]   (default: 10000 100000; 0 and 1000000 allowed)
# Generated data lives under /var/tmp and is deleted after each size.
# CARGO_TARGET_DIR is honoured; NO_BUILD=1 skips the build.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(10000 100000)
[ -n "${NO_BUILD:-}" ] || cargo build --release --quiet
bin=${CARGO_TARGET_DIR:-target}/release
corpus=../shared/corpus
pid=
work=
trap 'if [ -n "$pid" ]; then kill $pid 2>/dev/null || true; fi; [ -z "$work" ] || rm -rf "$work"' EXIT

rows=()
failed=()
for N in "${SIZES[@]}"; do
    work=$(mktemp -d /var/tmp/cb-scale.XXXXXX)
    # The daemon and cbctl find each other through XDG dirs: keep them here.
    export XDG_RUNTIME_DIR=$work/run XDG_STATE_HOME=$work/xstate XDG_CONFIG_HOME=$work/xconfig
    mkdir -p "$XDG_RUNTIME_DIR" "$XDG_STATE_HOME" "$XDG_CONFIG_HOME"
    chmod 700 "$XDG_RUNTIME_DIR"
    gen_s=$(python3 - "$work/lib" "$N" <<'PY'
import os, struct, sys, time, zlib
from multiprocessing import Pool
lib, n = sys.argv[1], int(sys.argv[2])
PER = 1000
W = H = 16
SIG = b"\x89PNG\r\n\x1a\n"
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
IHDR = chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0))  # 8-bit RGB
IEND = chunk(b"IEND", b"")
def folder(k):
    d = os.path.join(lib, f"{2025 - k // 12:04d}", f"{k % 12 + 1:02d}")
    os.makedirs(d, exist_ok=True)
    for i in range(k * PER, min(n, (k + 1) * PER)):
        px = os.urandom(H * W * 3)
        raw = b"".join(b"\x00" + px[r * W * 3:(r + 1) * W * 3] for r in range(H))
        with open(os.path.join(d, f"IMG_{i:07d}.png"), "wb") as f:
            f.write(SIG + IHDR + chunk(b"IDAT", zlib.compress(raw, 1)) + IEND)
t = time.perf_counter()
with Pool(os.cpu_count() or 2) as p:
    p.map(folder, range((n + PER - 1) // PER), chunksize=4)
os.sync()
print(f"{time.perf_counter() - t:.1f}")
PY
)
    mkdir -p "$work/inbox" "$work/lib"  # clean-backupd never creates an inbox or a library
    cat > "$work/config.toml" <<TOML
library = "lib"
state_dir = "state"
[[inbox]]
path = "inbox"
[watch]
settle_seconds = 1
TOML
    "$bin/clean-backupd" --config "$work/config.toml" 2>"$work/daemon.log" &
    pid=$!
    daemon=$(python3 - "$work" "$pid" "$corpus/exif-samples/jpg/Canon_40D.jpg" \
        "$corpus/metadata-extractor/jpg" <<'PY'
import os, sys, time
work, pid, newsrc, warmdir = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
inbox = os.path.join(work, "inbox")
advert = os.path.join(work, "run", "clean-backup", "daemon.json")
while not os.path.exists(advert):  # the daemon is up and watching
    if not os.path.exists(f"/proc/{pid}"):
        sys.exit("clean-backupd exited: see daemon.log")
    time.sleep(0.05)
time.sleep(0.5)
def drop(data, name, limit=7200):
    path = os.path.join(inbox, name)
    with open(path, "wb") as f:
        f.write(data)
    t = time.perf_counter()
    while os.path.exists(path):  # filed = moved out of the inbox
        if time.perf_counter() - t > limit:
            sys.exit(f"{name} not filed after {limit} s")
        time.sleep(0.01)
    return time.perf_counter() - t - 1.0  # minus the settle delay
warm = sorted(os.listdir(warmdir))[0]
index_s = drop(open(os.path.join(warmdir, warm), "rb").read(), warm)
new_s = drop(open(newsrc, "rb").read() + b"scale bench new photo", "NEW_Canon_40D.jpg")
st = {l.split(":")[0]: int(l.split()[1]) for l in open(f"/proc/{pid}/status")
      if l.startswith(("VmHWM", "VmRSS"))}
# Filing rate: BURST distinct tiny PNGs renamed into the inbox at once, timed
# from the rename until the last is moved out (minus the settle delay).
import struct, zlib
def png(seed):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    px = os.urandom(16 * 16 * 3)
    raw = b"".join(b"\x00" + px[r * 48:(r + 1) * 48] for r in range(16))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 16, 16, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 1)) + chunk(b"IEND", b""))
burst = int(os.environ.get("BURST", "2000"))
stage = os.path.join(work, "stage")
os.makedirs(stage)
names = [f"BURST_{i:05d}.png" for i in range(burst)]
for n in names:
    with open(os.path.join(stage, n), "wb") as f:
        f.write(png(n))
t = time.perf_counter()
for n in names:
    os.rename(os.path.join(stage, n), os.path.join(inbox, n))
left = set(names)
while left:
    if time.perf_counter() - t > 7200:
        sys.exit("the burst was not filed in 2 h")
    left = {n for n in left if os.path.exists(os.path.join(inbox, n))}
    time.sleep(0.05)
burst_rate = burst / max(time.perf_counter() - t - 1.0, 0.001)
st2 = {l.split(":")[0]: int(l.split()[1]) for l in open(f"/proc/{pid}/status") if l.startswith("VmHWM")}
db = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(os.path.join(work, "state"))
         for f in fs if ".db" in f or ".sqlite" in f)
print(f"{index_s:.1f} {st['VmHWM'] / 1024:.0f} {st['VmRSS'] / 1024:.0f} {new_s * 1000:.0f} {db / 2**20:.1f} "
      f"{burst_rate:.0f} {st2['VmHWM'] / 1024:.0f}")
PY
)
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
    read -r index_s hwm rss new_ms db_mib burst_rate burst_hwm <<<"$daemon"
    # Similar-image dedup over the same library, on a fresh state dir.
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -v -o "$work/time.txt" "$bin/cbctl" --state-dir "$work/dstate" --json \
            dedup --local "$work/lib" >"$work/dedup.json" 2>"$work/dedup.err" || true
        dedup_s=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, a, ":"); s = 0;
            for (i = 1; i <= n; i++) s = s * 60 + a[i]; printf "%.1f", s}' "$work/time.txt")
        dedup_mib=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2 / 1024}' "$work/time.txt")
    else
        t0=$(date +%s.%N)
        "$bin/cbctl" --state-dir "$work/dstate" --json dedup --local "$work/lib" \
            >"$work/dedup.json" 2>"$work/dedup.err" &
        dp=$!; peak=0
        while kill -0 $dp 2>/dev/null; do
            h=$(awk '/VmHWM/ {print $2}' /proc/$dp/status 2>/dev/null || echo 0)
            [ "${h:-0}" -gt "$peak" ] && peak=$h; sleep 0.2
        done
        wait $dp || true
        dedup_s=$(echo "$(date +%s.%N) - $t0" | bc); dedup_mib=$((peak / 1024))
    fi
    groups=$(tail -n 1 "$work/dedup.json" | python3 -c 'import json, sys; s = json.load(sys.stdin); print(s["files"], "files,", s["groups"], "groups")' 2>/dev/null || echo "?")
    rate=$(python3 -c "print(f'{$N / max($index_s, 0.001):.0f}')")
    row="| $N | $gen_s | $index_s | $rate | $hwm | $rss | $new_ms | $burst_rate | $burst_hwm | $db_mib | $dedup_s | $dedup_mib | $groups |"
    # Regressions fail the run (issue 17): the daemon's peak after its first
    # index and one photo, <= 50 MiB up to 100,000 files and <= 150 MB
    # (143 MiB) at a million; dedup under 1 GB.
    limit=$([ "$N" -le 100000 ] && echo 50 || echo 143)
    [ "$hwm" -le "$limit" ] || failed+=("$N files: daemon peak RSS $hwm MiB > $limit MiB")
    [ "${dedup_mib:-0}" -lt 954 ] || failed+=("$N files: dedup peak RSS $dedup_mib MiB >= 1 GB")
    rows+=("$row")
    echo "$row" >&2
    rm -rf "$work"; work=
done
echo "| files | generate (s) | daemon first index (s) | files/s | daemon peak RSS (MiB) | RSS after filing (MiB) | file one new photo (ms) | filing a burst (files/s) | peak RSS after the burst (MiB) | state DB (MiB) | dedup (s) | dedup peak RSS (MiB) | dedup found |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
if ((${#failed[@]})); then
    printf 'REGRESSION: %s\n' "${failed[@]}" >&2
    exit 1
fi
