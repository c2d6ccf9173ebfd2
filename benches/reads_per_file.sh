#!/usr/bin/env bash
# Reads per incoming file (issue 17, "Read each file once"): how many times
# the bytes of one photo are read while `cbctl organize` files it, counted
# with strace (every read/pread of a descriptor that names the file, summed,
# divided by the file's size), and how many bytes of the library copy are
# read back. Cases: a JPEG moved within a filesystem, the same JPEG copied
# from /dev/shm (tmpfs) to the disk (another filesystem), a HEIC moved.
# Usage: benches/reads_per_file.sh [CBCTL]   (default: target/release/cbctl,
# built). Exits 1 when a moved photo is read more than 1.15 times (once,
# plus its headers), a copied one more than 2.1 times (once to inspect it,
# once streamed into the copy, which is hashed as it is written), or a
# cross-filesystem copy is read back (its copy's bytes read).
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=$(cd ../shared/corpus && pwd)
bin=${1:-}
if [ -z "$bin" ]; then
    cargo build --release --quiet
    bin=${CARGO_TARGET_DIR:-target}/release/cbctl
fi
bin=$(realpath "$bin")
command -v strace >/dev/null || { echo "strace is needed (apt-get install strace)" >&2; exit 2; }
work=$(mktemp -d /var/tmp/cb-reads.XXXXXX)
shm=$(mktemp -d /dev/shm/cb-reads.XXXXXX)
trap 'rm -rf "$work" "$shm"' EXIT
failed=0
# case NAME SRC_DIR FILE LIB [organize options...]
case_() {
    local name=$1 src=$2 file=$3 lib=$4
    shift 4
    local size
    size=$(stat -c %s "$src/$file")
    rm -f "$work"/trace.*
    # -ff: one file per thread, so no call is split across lines by another thread's.
    strace -f -ff -y -qq -e trace=read,pread64,readv,preadv,preadv2,copy_file_range,sendfile,mmap \
        -o "$work/trace" "$bin" --state-dir "$work/state-$name" --json organize "$@" "$src" "$lib" >/dev/null
    local max=1.15
    [[ $name != copy* ]] || max=2.1
    python3 - "$work/trace" "$file" "$size" "$name" "$max" "$lib" <<'PY' || failed=1
import glob, re, sys
trace, name, size, case, limit, lib = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5]), sys.argv[6]
src = dst = 0
mapped = False
lines = (l for f in sorted(glob.glob(trace + ".*")) for l in open(f))
for line in lines:
    m = re.search(r"\b(read|pread64|readv|preadv2?|copy_file_range|sendfile)\((\d+)<([^>]*)>.*\)\s+=\s+(\d+)", line)
    if m:
        path, n = m.group(3), int(m.group(4))
        if path.startswith(lib):
            if path.endswith(name) or ".tmp" in path or "part" in path:
                dst += n
        elif path.endswith("/" + name):
            src += n
    if re.search(r"mmap\(.*<[^>]*" + re.escape(name) + ">", line):
        mapped = True
reads = src / size
print(f"{case}: {size} bytes; read {src} bytes of it = {reads:.2f} reads; copy read back: {dst} bytes"
      + ("; also mmapped" if mapped else ""))
bad = reads > limit or (case.startswith("copy") and dst > 0)
sys.exit(1 if bad else 0)
PY
}
mkdir -p "$work/a" "$work/c" "$shm/b"
cp "$corpus/exif-samples/jpg/mobile/HMD_Nokia_8.3_5G.jpg" "$work/a/IMG_1.jpg"
case_ move-jpeg "$work/a" IMG_1.jpg "$work/lib1"
cp "$corpus/exif-samples/jpg/mobile/HMD_Nokia_8.3_5G.jpg" "$shm/b/IMG_2.jpg"
case_ copy-jpeg-across-filesystems "$shm/b" IMG_2.jpg "$work/lib2" --copy
heic=$(find "$corpus" -iname '*.heic' -size +500k | sort | head -1)
cp "$heic" "$work/c/IMG_3.heic"
case_ move-heic "$work/c" IMG_3.heic "$work/lib3"
if [ "$failed" -ne 0 ]; then
    echo "REGRESSION: a photo was read more often than it must be, or a copy was read back" >&2
    exit 1
fi
