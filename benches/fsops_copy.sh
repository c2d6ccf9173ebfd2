#!/bin/sh
# One run of `cbctl organize --copy --no-phash` over 2000 small JPEGs in
# /var/tmp/b/src (make them as benches/organize.sh does), with binary $1 in a
# fresh work folder /var/tmp/b/$2. Compare two builds with farm-bench:
#   farm-bench --vs 'benches/fsops_copy.sh OLD/cbctl wold' -- benches/fsops_copy.sh NEW/cbctl wnew
# organize --copy of 2000 small JPEGs, same filesystem
W=/var/tmp/b/$2; rm -rf $W; mkdir -p $W/lib
exec $1 --state-dir $W/state organize --copy --no-phash /var/tmp/b/src $W/lib >/dev/null 2>&1
