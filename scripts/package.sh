#!/usr/bin/env bash
# Builds the Debian package from a release build:
#   target/debian/clean-backup_<version>-1_<arch>.deb
# Install it with `sudo apt install ./target/debian/clean-backup_*.deb`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --release
export PATH="$HOME/.cargo/bin:$PATH"
# Man pages and completions from the clap definitions, where Cargo.toml's deb assets expect them.
target/release/cbctl generate-docs target/docs
cargo deb --no-build
