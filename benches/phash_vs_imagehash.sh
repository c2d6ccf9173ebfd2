#!/usr/bin/env bash
# pHash agreement and speed against Python imagehash on the corpus images.
# Installs imagehash from PyPI into a private venv (once), builds cbctl.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${VENV:-target/imagehash-venv}
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q imagehash pillow-heif
fi
cargo build --release --quiet
echo "== all images (JPEG, PNG, GIF, BMP, TIFF, WebP, HEIC/AVIF)"
"$venv/bin/python" benches/phash_compare.py target/release/cbctl ../shared/corpus
echo "== JPEG only"
ONLY_JPEG=1 "$venv/bin/python" benches/phash_compare.py target/release/cbctl ../shared/corpus
