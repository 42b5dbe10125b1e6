#!/usr/bin/env bash
# Every check that needs an NVIDIA GPU, in one run (GPU time is scarce): environment, the GPU step benchmark,
# a short cats-vs-dogs training run on the GPU, then the whole test suite (its "cuda" cases run here).
#   bash benchmarks/gpu_check.sh IMAGE_DIR      logs go to $OUT (or gpu_logs/)
set -u
OUT=${OUT:-gpu_logs}
mkdir -p "$OUT"
DATA=${1:-.gpu_subset/train}
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg TINYGRAD_BN_CACHE=/tmp/tinygrad_bn_cache

{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  python3 -c "import cupy, torch, numpy; print('cupy', cupy.__version__, 'torch', torch.__version__, 'numpy', numpy.__version__)"
} > "$OUT/env.txt" 2>&1

echo "== benchmark" && timeout 150 python3 benchmarks/step.py --device cuda --batch-sizes 64 256 --skip memory \
    --repeats 10 --json "$OUT/bench.json" > "$OUT/bench.txt" 2>&1; echo "rc=$?" >> "$OUT/bench.txt"

echo "== training" && timeout 120 python3 -m models.catsdogs train --data "$DATA" --device cuda --epochs 4 \
    --batch-size 64 --out /tmp/gpu_run > "$OUT/train.txt" 2>&1; echo "rc=$?" >> "$OUT/train.txt"
cp /tmp/gpu_run/metrics.csv "$OUT/" 2>/dev/null
timeout 60 python3 -m models.catsdogs evaluate --checkpoint /tmp/gpu_run/best.npz --data "$DATA" --device cuda \
    --json >> "$OUT/train.txt" 2>&1

echo "== tests" && TINYGRAD_BN_DATA="$DATA" timeout "${TEST_TIMEOUT:-240}" python3 -m pytest tests -q -n 4 \
    -p no:cacheprovider -rs --maxfail 30 > "$OUT/tests.txt" 2>&1; echo "rc=$?" >> "$OUT/tests.txt"
tail -3 "$OUT/tests.txt"
