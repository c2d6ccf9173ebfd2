#!/usr/bin/env bash
# Exact duplicates at scale (issue 17 item 5): `cbctl dedup --exact
# --all-files` (report only, --local, a fresh state dir each run) against
# `fclones group` on the same tree, in the same run.
#
# The tree: N files (default 50,000) in folders of 1,000, 30% of them
# copies of another file of the tree (some originals have several copies),
# sizes 1 B to 64 KiB of random bytes named .jpg (so that both tools see
# them; random sizes collide often, so many same-size files differ), plus
# the corpus JPEGs and a copy of each. Hidden files and empty files are
# avoided: both tools pass them over.
#
# Checks that the two tools find the same groups (as sets of paths), then
# times each RUNS times (default 5, after one warm-up), interleaved, and
# prints the median wall time of each and the median ratio cbctl/fclones.
# The page cache is warm for both (the tree is small); the first cbctl run
# of each pair uses a state dir it has never seen (its index is cold).
#
# Usage: benches/exact_vs_fclones.sh [N]   (FCLONES=path, RUNS=5, NO_BUILD=1,
#        CBCTL=path to a built cbctl, TREE=dir to keep the tree or reuse it, CARGO_TARGET_DIR
#        honoured). Install fclones with
#        `cargo install --root /some/dir fclones` and set FCLONES.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-50000}
RUNS=${RUNS:-5}
FCLONES=${FCLONES:-$(command -v fclones || echo /work/tools/bin/fclones)}
[ -x "$FCLONES" ] || { echo "fclones not found: set FCLONES" >&2; exit 2; }
[ -n "${NO_BUILD:-}${CBCTL:-}" ] || cargo build --release --quiet --bin cbctl
CBCTL=$(realpath "${CBCTL:-${CARGO_TARGET_DIR:-target}/release/cbctl}")
corpus=../shared/corpus
work=$(mktemp -d /var/tmp/cb-exact.XXXXXX)
trap 'rm -rf "$work"' EXIT
export XDG_CONFIG_HOME=$work/xconfig XDG_RUNTIME_DIR=$work/run
mkdir -p "$XDG_CONFIG_HOME" "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
tree=${TREE:-$work/tree}

[ -d "$tree" ] || python3 - "$tree" "$N" "$corpus" <<'PY'
import os, random, shutil, sys
tree, n, corpus = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rng = random.Random(17)
PER = 1000
dups = n * 30 // 100
originals = n - dups
paths = []
def path(i):
    d = os.path.join(tree, f"d{i // PER:03d}")
    os.makedirs(d, exist_ok=True)
    return os.path.join(d, f"IMG_{i:06d}.jpg")
for i in range(originals):
    p = path(i)
    with open(p, "wb") as f:
        f.write(os.urandom(rng.randint(1, 64 * 1024)))
    paths.append(p)
for i in range(originals, n):
    shutil.copyfile(paths[rng.randrange(originals)], path(i))
# A few real photos, and a copy of each.
real = os.path.join(tree, "real")
os.makedirs(real, exist_ok=True)
k = 0
for top, _, files in os.walk(corpus):
    for name in sorted(files):
        if name.lower().endswith(".jpg") and k < 40:
            src = os.path.join(top, name)
            if os.path.getsize(src) == 0:
                continue
            shutil.copyfile(src, os.path.join(real, f"photo{k:02d}.jpg"))
            shutil.copyfile(src, os.path.join(real, f"photo{k:02d}-copy.jpg"))
            k += 1
os.sync()
PY
echo "tree: $(find "$tree" -type f | wc -l) files, $(du -sh "$tree" | cut -f1)" >&2

# Same groups?
"$CBCTL" --local --json --state-dir "$work/state-check" dedup --exact --all-files "$tree" >"$work/cb.json"
"$FCLONES" group --format json "$tree" >"$work/fc.json" 2>/dev/null
python3 - "$work/cb.json" "$work/fc.json" <<'PY'
import json, sys
cb = set()
for line in open(sys.argv[1]):
    v = json.loads(line)
    if "group" in v and "keeper" in v:
        cb.add(frozenset([v["keeper"]] + [m["path"] for m in v["members"]]))
fc = {frozenset(g["files"]) for g in json.load(open(sys.argv[2]))["groups"]}
same = cb == fc
print(f"groups: cbctl {len(cb)}, fclones {len(fc)}, files in groups: cbctl {sum(map(len, cb))}, "
      f"fclones {sum(map(len, fc))}; same groups: {'yes' if same else 'NO'}")
if not same:
    for g in list(cb - fc)[:5]: print("  only cbctl:", sorted(g))
    for g in list(fc - cb)[:5]: print("  only fclones:", sorted(g))
    sys.exit(1)
PY

# Timing: RUNS pairs after a warm-up pair; each cbctl run on a new state dir.
secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N); echo "$t1 - $t0" | bc; }
cb=() fc=() warm=()
for r in $(seq 0 "$RUNS"); do
    c=$(secs "$CBCTL" --local --json --state-dir "$work/state-$r" dedup --exact --all-files "$tree")
    w=$(secs "$CBCTL" --local --json --state-dir "$work/state-$r" dedup --exact --all-files "$tree")
    f=$(secs "$FCLONES" group "$tree")
    rm -rf "$work/state-$r"
    [ "$r" -eq 0 ] && continue
    cb+=("$c") warm+=("$w") fc+=("$f")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
mc=$(median "${cb[@]}") mw=$(median "${warm[@]}") mf=$(median "${fc[@]}")
echo "cbctl dedup --exact --all-files (fresh state dir): median ${mc} s of ${RUNS}"
echo "cbctl dedup --exact --all-files (its state dir again): median ${mw} s"
echo "fclones group: median ${mf} s"
echo "ratio cbctl/fclones: $(echo "scale=2; $mc / $mf" | bc)"
