#!/usr/bin/env bash
# Builds clean-backup and runs the daemon on config.example.toml: it watches
# example/Inbox and files whatever media lands there into example/Library.
# Extra arguments go to clean-backupd (e.g. --config ~/.config/clean-backup/config.toml).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --release
export PATH="$HOME/.cargo/bin:$PATH"
args=("$@")
if [ ${#args[@]} -eq 0 ]; then
  args=(--config config.example.toml)
  # The daemon never creates its library or inboxes (an unmounted disk must
  # not be filled on the mount point): the example's are made here.
  mkdir -p example/Inbox example/Library
fi
echo "run: clean-backupd ${args[*]}  (drop photos into example/Inbox; Ctrl-C to stop)" >&2
# The daemon says where its socket is in the runtime folder, so cbctl needs no flags.
echo "in another terminal: target/release/cbctl status   (also: cbctl history, cbctl why FILE, cbctl undo --last)" >&2
exec target/release/clean-backupd "${args[@]}"
