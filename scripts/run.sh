#!/usr/bin/env bash
# Builds clean-backup and runs the daemon on config.example.toml: it watches
# example/Inbox and files whatever media lands there into example/Library.
# Extra arguments go to clean-backupd (e.g. --config ~/.config/clean-backup/config.toml).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --release
export PATH="$HOME/.cargo/bin:$PATH"
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(--config config.example.toml)
echo "run: clean-backupd ${args[*]}  (drop photos into example/Inbox; Ctrl-C to stop)" >&2
exec target/release/clean-backupd "${args[@]}"
