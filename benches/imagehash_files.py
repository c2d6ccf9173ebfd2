#!/usr/bin/env python3
"""Python imagehash.phash of each file named (HEIC/AVIF through pillow-heif),
one line "HASH PATH" each: the yardstick `cbctl hash` is timed against, as a
whole process, in benches/phash_vs_imagehash.sh (taskset -c 0: one core).
Usage: benches/imagehash_files.py FILE...
"""
import sys

import imagehash
import pillow_heif
from PIL import Image, ImageOps

pillow_heif.register_heif_opener()
for f in sys.argv[1:]:
    try:
        with Image.open(f) as im:
            print(imagehash.phash(ImageOps.exif_transpose(im)), f)
    except Exception as e:  # noqa: BLE001 - report and go on
        print(f"error {f}: {e}", file=sys.stderr)
