#!/usr/bin/env bash
# libjpeg-turbo (turbojpeg crate) vs mozjpeg for lossy JPEG re-compression of
# the corpus JPEGs at q95/q85/q75: size, encode speed, PSNR.
# Standalone cargo project (own workspace and target dir): benches/jpeg_encoders.
# Usage: benches/jpeg_encoders.sh [CORPUS_DIR [QUALITY...]]
#   defaults: ../shared/corpus, qualities 95 85 75; e.g. add 95 90 85 80 75 70 65 60
#   for the equal-PSNR comparison
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${1:-../shared/corpus}
shift $(( $# > 0 ? 1 : 0 ))
cargo build --release --quiet --manifest-path benches/jpeg_encoders/Cargo.toml
exec benches/jpeg_encoders/target/release/jpeg_encoders "$corpus" "$@"
