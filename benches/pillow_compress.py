#!/usr/bin/env python3
"""Pillow baseline for lossy JPEG / lossless PNG re-compression of the corpus.

Re-encodes every image/jpeg listed in CORPUS/MANIFEST.tsv with Pillow at the
given quality (optimize=True, EXIF bytes and ICC profile kept, Pillow's default
chroma subsampling, i.e. 4:2:0) and every image/png with optimize=True (ICC and
EXIF kept when present), writing into a temporary directory. One process, one
thread. A result that is not smaller than the original counts the original
bytes ("never worse" rule); a file Pillow cannot open or save is counted as
kept unchanged and listed under "errors".

Prints JSON: files, input_bytes, output_bytes, ratio, seconds (open + decode +
encode + write, summed over files), images_per_s.

Usage: pillow_compress.py [--corpus DIR] [--quality {95,85,75}]
Needs Pillow, e.g.: python3 -m venv /tmp/pillow-venv && /tmp/pillow-venv/bin/pip install pillow
"""
import argparse
import csv
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import PIL
from PIL import Image, features

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO_ROOT / ".." / "shared" / "corpus"


def manifest_rows(corpus):
    with open(corpus / "MANIFEST.tsv", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        next(reader, None)  # header
        for row in reader:
            if len(row) >= 4 and row[3] in ("image/jpeg", "image/png"):
                yield row[0], row[3]


def recompress(src, dst, mime, quality):
    with Image.open(src) as im:
        im.load()
        if mime == "image/jpeg":
            im.save(dst, "JPEG", quality=quality, optimize=True,
                    exif=im.info.get("exif", b""), icc_profile=im.info.get("icc_profile"))
        else:
            kwargs = {"optimize": True}
            if im.info.get("icc_profile"):
                kwargs["icc_profile"] = im.info["icc_profile"]
            if im.info.get("exif"):
                kwargs["exif"] = im.info["exif"]
            im.save(dst, "PNG", **kwargs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--quality", type=int, choices=(95, 85, 75), default=85)
    args = ap.parse_args()
    corpus = args.corpus.resolve()

    counts = {"image/jpeg": 0, "image/png": 0}
    input_bytes = output_bytes = kept_original = 0
    seconds = 0.0
    errors = []
    with tempfile.TemporaryDirectory(prefix="pillow-compress-") as tmp:
        for i, (rel, mime) in enumerate(manifest_rows(corpus)):
            src = corpus / rel
            dst = Path(tmp) / (f"{i}.jpg" if mime == "image/jpeg" else f"{i}.png")
            orig = os.path.getsize(src)
            t0 = time.perf_counter()
            try:
                recompress(src, dst, mime, args.quality)
                new = os.path.getsize(dst)
            except Exception as e:  # noqa: BLE001 - bench: record and keep original
                errors.append(f"{rel}: {e}")
                new = orig
            seconds += time.perf_counter() - t0
            counts[mime] += 1
            input_bytes += orig
            if new >= orig:
                kept_original += 1
                new = orig
            output_bytes += new
            if dst.exists():
                dst.unlink()

    files = sum(counts.values())
    json.dump({
        "corpus": str(corpus),
        "quality": args.quality,
        "pillow": PIL.__version__,
        "libjpeg_turbo": features.version("libjpeg_turbo"),
        "files": files,
        "jpeg_files": counts["image/jpeg"],
        "png_files": counts["image/png"],
        "input_bytes": input_bytes,
        "output_bytes": output_bytes,
        "ratio": round(output_bytes / input_bytes, 4) if input_bytes else None,
        "kept_original_not_smaller": kept_original,
        "errors": errors,
        "seconds": round(seconds, 3),
        "images_per_s": round(files / seconds, 2) if seconds else None,
    }, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
