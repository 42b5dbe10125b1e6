#!/usr/bin/env bash
# benchmarks/step.py twice: as this machine's environment is configured, then with OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE unset for that one command (OpenBLAS then picks its kernels from the processor, as it would on a
# user's machine without them). Nothing else changes: the variables stay as they are for everything else.
#
#     bash benchmarks/blas_configs.sh --repeats 9 --json-prefix benchmarks/results/cpu-DATE
#
# Arguments go to both runs; --json-prefix P writes P-configured.json and P-unset.json.
set -euo pipefail
cd "$(dirname "$0")/.."
args=() prefix=""
while [ $# -gt 0 ]; do
    if [ "$1" = "--json-prefix" ]; then prefix="$2"; shift 2; else args+=("$1"); shift; fi
done
json() { if [ -n "$prefix" ]; then echo "--json" "$prefix-$1.json"; fi; }

echo "# As configured: OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE-unset} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE-unset}"
# shellcheck disable=SC2046
python benchmarks/step.py "${args[@]}" $(json configured)
echo
echo "# With OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset for this command alone"
# shellcheck disable=SC2046
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/step.py "${args[@]}" $(json unset)
