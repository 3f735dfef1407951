#!/usr/bin/env bash
# Runs the intentstream training benchmark (bench/train) with the Node binary of this bundle, on the
# machine's GPU through Vulkan (Dawn, the tfjs webgpu backend), no Node.js or npm needed.
#
#   ./run-bench.sh [arguments of bench/train.ts]     (see the comment at the top of app/bench/train.ts)
#
# Vulkan: the machine's loader (libvulkan.so.1) where it has one, else the one in lib/. The driver:
# VK_ICD_FILENAMES or VK_DRIVER_FILES where set, else the first NVIDIA ICD file found in the usual
# places (/usr/local/nvidia/share/vulkan/icd.d, /usr/share/vulkan/icd.d, /etc/vulkan/icd.d). For a
# CPU-only check: VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json ./run-bench.sh
#
# Writes the benchmark's results (bench/results/*.json), results/gpu.json (the GPU as nvidia-smi and
# the WebGPU adapter describe it) and results/bench.log into results/ beside this script, or RESULTS_DIR.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NODE="$HERE/bin/node"
APP="$HERE/app"
RESULTS="${RESULTS_DIR:-$HERE/results}"
mkdir -p "$RESULTS"

if ! { ldconfig -p || /sbin/ldconfig -p; } 2>/dev/null | grep -q 'libvulkan\.so\.1 '; then
  export LD_LIBRARY_PATH="$HERE/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  echo "[run-bench] no Vulkan loader on the machine: using lib/libvulkan.so.1" >&2
fi
for dir in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
  if [[ -d $dir ]]; then export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$dir"; fi
done
if [[ -z "${VK_ICD_FILENAMES:-}" && -z "${VK_DRIVER_FILES:-}" ]]; then
  for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json \
    /etc/vulkan/icd.d/nvidia_icd.json; do
    if [[ -f $icd ]]; then
      export VK_ICD_FILENAMES="$icd" VK_DRIVER_FILES="$icd"
      break
    fi
  done
fi
echo "[run-bench] Vulkan driver: ${VK_ICD_FILENAMES:-${VK_DRIVER_FILES:-the default search of the loader}}" >&2

gpu="$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1 || true)"
# The adapter Dawn picks, as the trainer would (a failure is recorded; the benchmark still runs).
"$NODE" "$APP/gpu-info.mjs" "$gpu" | tee "$RESULTS/gpu.json"

cd "$APP"
"$NODE" --import tsx bench/train.ts "$@" 2>&1 | tee "$RESULTS/bench.log"
cp bench/results/*.json "$RESULTS/"
echo "[run-bench] results in $RESULTS" >&2
