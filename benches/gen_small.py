#!/usr/bin/env python3
"""N copies of one photo, each made distinct by bytes after its end, in
FOLDERS folders (default 50): the "small JPEGs" of benches/organize.sh and
organize_scale.sh, and the library of benches/daemon_latency.sh.
Usage: benches/gen_small.py DIR N PHOTO [FOLDERS]
"""
import os
import sys

d, n, src = sys.argv[1], int(sys.argv[2]), sys.argv[3]
folders = int(sys.argv[4]) if len(sys.argv) > 4 else 50
base = open(src, "rb").read()
for i in range(n):
    sub = os.path.join(d, f"d{i % folders:02}")
    os.makedirs(sub, exist_ok=True)
    with open(os.path.join(sub, f"IMG_{i:07}.jpg"), "wb") as f:
        f.write(base + f"trailer {i}".encode())
