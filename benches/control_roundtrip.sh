#!/usr/bin/env bash
# Times cbctl's round trip to a running daemon: N × `cbctl --json status`
# and N × `cbctl --json history` (process start, socket, typed request and
# reply, JSON out). Usage: benches/control_roundtrip.sh [BIN_DIR] [N]
# (BIN_DIR: where cbctl and clean-backupd are, default target/release).
set -euo pipefail
bin=${1:-target/release}
n=${2:-200}
work=$(mktemp -d)
trap 'kill "$daemon" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/lib" "$work/inbox" "$work/run"
cat > "$work/config.toml" <<TOML
library = "lib"
state_dir = "state"
[[inbox]]
path = "inbox"
[control]
dbus = "off"
TOML
export XDG_RUNTIME_DIR="$work/run"
"$bin/clean-backupd" --config "$work/config.toml" 2>/dev/null &
daemon=$!
for _ in $(seq 100); do "$bin/cbctl" status >/dev/null 2>&1 && break; sleep 0.1; done
for what in status history; do
  start=$(date +%s.%N)
  for _ in $(seq "$n"); do "$bin/cbctl" --json "$what" >/dev/null; done
  end=$(date +%s.%N)
  echo "$what: $(echo "($end - $start) * 1000 / $n" | bc -l | xargs printf '%.2f') ms per call over $n calls"
done
