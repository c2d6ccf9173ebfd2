#!/usr/bin/env python3
"""Compare `cbctl hash` with Python imagehash.phash on every corpus image.

imagehash is given the image turned upright (ImageOps.exif_transpose), as
cbctl applies EXIF orientation before hashing. Prints the distribution of
Hamming distances, the share within 4 bits, and timings of both tools.
Usage: benches/phash_compare.py CBCTL CORPUS_DIR
"""
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import imagehash
from PIL import Image, ImageOps

MIMES = ["image/jpeg", "image/png", "image/gif", "image/bmp", "image/tiff", "image/webp"]
try:  # HEIC/AVIF through libheif's Pillow plugin, when installed
    import pillow_heif

    pillow_heif.register_heif_opener()
    MIMES += ["image/heic", "image/heif", "image/avif"]
except ImportError:
    pass

cbctl, corpus = sys.argv[1], Path(sys.argv[2])
rows = [l.split("\t") for l in (corpus / "MANIFEST.tsv").read_text().splitlines()[1:]]
import os

if os.environ.get("ONLY_JPEG"):  # the formats' share of the time: JPEG alone
    MIMES = ["image/jpeg"]
if os.environ.get("ONLY_HEIF"):  # HEIC/HEIF (HEVC) alone (issue 17 item 3)
    MIMES = ["image/heic", "image/heif"]
files = [corpus / r[0] for r in rows if r[3] in MIMES]

import os

t0 = time.perf_counter()
one = subprocess.run([cbctl, "--json", "hash", *map(str, files)], capture_output=True, text=True,
                     env={**os.environ, "RAYON_NUM_THREADS": "1"})
t_ours_one = time.perf_counter() - t0
t0 = time.perf_counter()
out = subprocess.run([cbctl, "--json", "hash", *map(str, files)], capture_output=True, text=True)
t_ours = time.perf_counter() - t0
ours = {}
for line in out.stdout.splitlines():
    o = json.loads(line)
    if "phash" in o:
        ours[o["path"]] = int(o["phash"], 16)

theirs, skipped = {}, []
t0 = time.perf_counter()
for f in files:
    try:
        with Image.open(f) as im:
            theirs[str(f)] = int(str(imagehash.phash(ImageOps.exif_transpose(im))), 16)
    except Exception as e:  # noqa: BLE001 - report and go on
        skipped.append(f"{f.name}: {e}")
t_theirs = time.perf_counter() - t0

both = [p for p in theirs if p in ours]
dist = {p: bin(ours[p] ^ theirs[p]).count("1") for p in both}
hist = Counter(dist.values())
within4 = sum(1 for d in dist.values() if d <= 4)
print(f"images compared: {len(both)} (cbctl errors: {len(files) - len(ours)}, imagehash errors: {len(skipped)})")
print("distance histogram: " + ", ".join(f"{d}: {hist[d]}" for d in sorted(hist)))
print(f"within 4 bits: {within4}/{len(both)} = {100 * within4 / max(1, len(both)):.1f}%")
for p, d in sorted(dist.items(), key=lambda x: -x[1])[:8]:
    if d > 4:
        print(f"  {d:2d} bits  {Path(p).relative_to(corpus)}")
print(f"time: imagehash {t_theirs:.2f} s (one core); cbctl {t_ours_one:.2f} s on one core "
      f"({t_theirs / t_ours_one:.1f}x faster), {t_ours:.2f} s on all cores ({t_theirs / t_ours:.1f}x)")
for s in skipped:
    print("  imagehash could not read", s)
