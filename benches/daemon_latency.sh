#!/usr/bin/env bash
# Latency of clean-backupd: time from a file's close in the inbox to it
# being in the library, minus the settle delay (settle_seconds = 1 here).
# Also the peak RSS of the daemon over the run.
# Usage: benches/daemon_latency.sh [N] [LIBRARY_FILES]
#   N: distinct corpus photos dropped one at a time (default 20)
#   LIBRARY_FILES: distinct 8 KB photos already in the library (default 0);
#   one warm-up photo, not counted, lets the daemon index them first.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20}
LIB=${2:-0}
[ -n "${NO_BUILD:-}" ] || cargo build --release --quiet
work=$(mktemp -d /var/tmp/cb-latency.XXXXXX)
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
python3 benches/gen_small.py "$work/lib/old" "$LIB" ../shared/corpus/exif-samples/jpg/Canon_40D.jpg 100
cat > "$work/config.toml" <<TOML
library = "lib"
state_dir = "state"
[[inbox]]
path = "inbox"
[watch]
settle_seconds = 1
TOML
mkdir -p "$work/inbox" "$work/lib"  # the daemon never makes its inbox or its library
export XDG_RUNTIME_DIR=$work/run
mkdir -p -m 700 "$XDG_RUNTIME_DIR"
"${DAEMON:-target/release/clean-backupd}" --config "$work/config.toml" 2>/dev/null &
pid=$!
python3 - "$work" "$N" "$pid" ../shared/corpus/metadata-extractor/jpg <<'PY'
import os, statistics, sys, time
work, n, pid, src = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
inbox = os.path.join(work, "inbox")
while not os.path.isdir(inbox):
    time.sleep(0.05)
time.sleep(1)
photos = sorted(os.listdir(src))[:n + 1]  # distinct photos: none is a duplicate of another
lat = []
for k, name in enumerate(photos):
    data = open(os.path.join(src, name), "rb").read()
    path = os.path.join(inbox, name)
    with open(path, "wb") as f:
        f.write(data)
    closed = time.perf_counter()
    while os.path.exists(path):  # filed = moved out of the inbox
        time.sleep(0.002)
    if k > 0:  # the first one waits for the first index of the library
        lat.append(time.perf_counter() - closed - 1.0)
n = len(lat)
hwm = [l for l in open(f"/proc/{pid}/status") if l.startswith("VmHWM")][0].split()[1]
lat_ms = sorted(x * 1000 for x in lat)
print(f"{n} files, one at a time, settle 1 s: latency beyond the settle delay "
      f"median {statistics.median(lat_ms):.0f} ms, min {lat_ms[0]:.0f} ms, max {lat_ms[-1]:.0f} ms; "
      f"daemon peak RSS {int(hwm) // 1024} MiB")
PY
