#!/usr/bin/env bash
# Runs the intentstream training benchmark (bench/train) with the Node binary of this bundle, on the
# machine's GPU through Vulkan (Dawn, the tfjs webgpu backend), no Node.js or npm needed.
#
#   ./run-bench.sh [arguments of bench/train.ts]     (see the comment at the top of app/bench/train.ts)
#
# Vulkan: see vulkan-env.sh. For a CPU-only check:
# VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json ./run-bench.sh
# The issue's acceptance figures in one command: acceptance.sh.
#
# Writes the benchmark's results (bench/results/*.json), results/gpu.json (the GPU as nvidia-smi and
# the WebGPU adapter describe it) and results/bench.log into results/ beside this script, or RESULTS_DIR.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NODE="$HERE/bin/node"
APP="$HERE/app"
RESULTS="${RESULTS_DIR:-$HERE/results}"
mkdir -p "$RESULTS"

# shellcheck source=scripts/gpu-bundle/vulkan-env.sh
source "$HERE/vulkan-env.sh"

gpu="$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1 || true)"
# The adapter Dawn picks, as the trainer would (a failure is recorded; the benchmark still runs).
"$NODE" "$APP/gpu-info.mjs" "$gpu" | tee "$RESULTS/gpu.json"

cd "$APP"
"$NODE" --import tsx bench/train.ts "$@" 2>&1 | tee "$RESULTS/bench.log"
cp bench/results/*.json "$RESULTS/"
echo "[run-bench] results in $RESULTS" >&2
