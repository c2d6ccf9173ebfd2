#!/usr/bin/env python3
"""N copies of one photo, each made distinct by bytes after its end, in
FOLDERS folders (default 50): the "small JPEGs" of benches/organize.sh and
organize_scale.sh, and the library of benches/daemon_latency.sh.
With MONTHS (default 1) above 1, file i is dated in the i % MONTHS-th month
after the photo's own (its EXIF date strings rewritten, same length), so the
files are filed into MONTHS folders as a real library's are, not all into one.
Usage: benches/gen_small.py DIR N PHOTO [FOLDERS [MONTHS]]
"""
import os
import re
import sys

d, n, src = sys.argv[1], int(sys.argv[2]), sys.argv[3]
folders = int(sys.argv[4]) if len(sys.argv) > 4 else 50
months = int(sys.argv[5]) if len(sys.argv) > 5 else 1
base = open(src, "rb").read()
dated = [base]
if months > 1:
    stamp = re.compile(rb"(\d{4}):(\d{2}):(\d{2} \d{2}:\d{2}:\d{2})")
    if not stamp.search(base):
        sys.exit(f"{src}: no EXIF date to rewrite")

    def shifted(k):
        def one(m):
            y, mo, day = int(m.group(1)), int(m.group(2)) - 1 + k, min(int(m.group(3)[:2]), 28)
            return b"%04d:%02d:%02d%s" % (y + mo // 12, mo % 12 + 1, day, m.group(3)[2:])

        return stamp.sub(one, base)

    # Every date-time string moved by k months (its day at most the 28th: one that exists).
    dated = [shifted(k) for k in range(months)]
for i in range(n):
    sub = os.path.join(d, f"d{i % folders:02}")
    os.makedirs(sub, exist_ok=True)
    with open(os.path.join(sub, f"IMG_{i:07}.jpg"), "wb") as f:
        f.write(dated[i % months] + f"trailer {i}".encode())
