#!/usr/bin/env bash
# Installs the system packages clean-backup needs to build and test, if any
# are missing, then builds. Safe to run again: it installs only what is absent.
#   scripts/setup.sh            debug build (what the tests use)
#   scripts/setup.sh --release  release build (what the daemon runs)
set -euo pipefail
cd "$(dirname "$0")/.."

# gcc/make: the bundled SQLite; pkg-config: -sys crates; cmake + nasm: libjpeg-turbo
# and libheif built from source (turbojpeg, libheif-rs); libde265/libdav1d: HEVC and
# AV1 decoders libheif links; libavcodec-dev: libheif's faster HEVC decoder (build/libheif.cmake); ffmpeg: test videos;
# exiftool: reference reader for dates; util-linux: setpriv for the permission test;
# dbus + dbus-bin: a private bus and dbus-monitor for the D-Bus test; systemd: busctl
# and systemd-analyze (unit checks); man-db + groff-base: render the generated man pages;
# socat: the security tests' hostile socket clients; chromium + chromium-driver: headless
# Chromium and its WebDriver (chromedriver) for the browser tests (tests/common/browser.rs).
packages=(build-essential pkg-config cmake nasm libde265-dev libdav1d-dev libavcodec-dev ffmpeg libimage-exiftool-perl util-linux dbus dbus-bin systemd man-db groff-base ca-certificates curl socat chromium chromium-driver)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "setup: installing the Rust toolchain with rustup" >&2
    curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --component clippy,rustfmt
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
fi

# cargo-deb builds the .deb (scripts/package.sh) and the packaging test's.
if ! command -v cargo-deb >/dev/null 2>&1; then
  echo "setup: installing cargo-deb" >&2
  cargo install --locked --quiet cargo-deb --version 3.8.0
fi

cargo build --locked --all-targets "$@"
