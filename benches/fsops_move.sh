#!/bin/sh
# One run of `cbctl organize --move --no-phash` over 2000 small JPEGs in
# /var/tmp/b/src (make them as benches/organize.sh does), with binary $1 in a
# fresh work folder /var/tmp/b/$2. Compare two builds with farm-bench:
#   farm-bench --vs 'benches/fsops_move.sh OLD/cbctl wold' -- benches/fsops_move.sh NEW/cbctl wnew
# organize --move of 2000 small JPEGs (hard-linked copies of src), same filesystem
W=/var/tmp/b/$2; rm -rf $W; mkdir -p $W/lib; cp -al /var/tmp/b/src $W/in
exec $1 --state-dir $W/state organize --move --no-phash $W/in $W/lib >/dev/null 2>&1
