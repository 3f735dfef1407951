#!/usr/bin/env bash
# The GPU training issue's two acceptance figures in one command, with this bundle's Node on the
# machine's GPU (Vulkan: see vulkan-env.sh):
#
#   (a) bench/train's realistic config (batch 1024, 50 steps, 32 features, 128 units): the webgpu
#       training step (src/model/webgpu-step, what `intentstream train` runs on webgpu) in time
#       steps/s, ÷ PyTorch nn.LSTM on cuDNN on the same GPU (python3 with torch and CUDA on the
#       machine); tfjs webgpu with the fused op (the tfjs-ops path) beside it;
#   (b) `intentstream train` on a store of generated sessions (≥ 250K at full size) with
#       --backend webgpu and with --backend wasm, run side by side (separate processes; wasm uses
#       one core): the time steps/s each reports and each model's test ROC-AUC.
#
#   ./acceptance.sh                 full size (a few minutes on an H200)
#   SMALL=1 ./acceptance.sh         a check of the whole path at a tiny size (e.g. on SwiftShader:
#                                   VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json)
#
# Settings (environment): PARTS (a,b), COOKIES (generated cookies over 7 days; 8400 ≈ 267K sessions;
# SMALL: 40), EPOCHS (2; SMALL: 1), BENCH_SECONDS (10; SMALL: 1), WORK_DIR (the store and models;
# a temporary folder), RESULTS_DIR (results/ beside this script). Writes acceptance.json there and
# prints it; exits non-zero when a part fails.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NODE="$HERE/bin/node"
APP="$HERE/app"
RESULTS="${RESULTS_DIR:-$HERE/results}"
SMALL="${SMALL:-0}"
PARTS="${PARTS:-a,b}"
if ((SMALL)); then
  COOKIES="${COOKIES:-40}" EPOCHS="${EPOCHS:-1}" BENCH_SECONDS="${BENCH_SECONDS:-1}" CONFIG=tiny MIN_SESSIONS=1
else
  COOKIES="${COOKIES:-8400}" EPOCHS="${EPOCHS:-2}" BENCH_SECONDS="${BENCH_SECONDS:-10}" CONFIG=realistic MIN_SESSIONS=250000
fi
WORK="${WORK_DIR:-$(mktemp -d)}"
mkdir -p "$RESULTS" "$WORK"
# shellcheck source=scripts/gpu-bundle/vulkan-env.sh
source "$HERE/vulkan-env.sh"
say() { echo "[acceptance] $*" >&2; }
cli() { "$NODE" --max-semi-space-size=32 "$APP/bin/intentstream.js" "$@"; }
# The value at a dotted path of a JSON file, or null.
field() { "$NODE" -e 'let v = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); for (const k of process.argv[2].split(".")) v = v?.[k]; console.log(JSON.stringify(v ?? null))' "$1" "$2"; }

gpu="$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1 || true)"
"$NODE" "$APP/gpu-info.mjs" "$gpu" >"$RESULTS/gpu.json"
say "GPU: $(cat "$RESULTS/gpu.json")"

a='null'
if [[ ",$PARTS," == *,a,* ]]; then
  say "(a) bench/train --configs=$CONFIG: the webgpu step and the fused op vs PyTorch cuDNN"
  (cd "$APP" && BENCH_RESULTS_DIR="$RESULTS/bench" "$NODE" --import tsx bench/train.ts --configs="$CONFIG" \
    --backends=webgpu --implementations=fused,step --pytorch=cuda --seconds="$BENCH_SECONDS") >"$RESULTS/bench.log" 2>&1 ||
    { tail -20 "$RESULTS/bench.log" >&2; exit 1; }
  c="configs.$CONFIG"
  a="{\"config\": \"$CONFIG\", \"webgpu_step_steps_per_s\": $(field "$RESULTS/bench/train.json" "$c.webgpu_step"), \"step_over_pytorch_cuda\": $(field "$RESULTS/bench/train.json" "$c.webgpu_step_over_pytorch_cuda"), \"webgpu_fused_steps_per_s\": $(field "$RESULTS/bench/train.json" "$c.webgpu_fused"), \"path\": $(field "$RESULTS/bench/train.json" "$c.webgpu_fused_path"), \"pytorch_cuda_steps_per_s\": $(field "$RESULTS/bench/train.json" "$c.pytorch_cuda"), \"pytorch_cuda_device\": $(field "$RESULTS/bench/train.json" "$c.pytorch_cuda_device"), \"fused_over_pytorch_cuda\": $(field "$RESULTS/bench/train.json" "$c.webgpu_fused_over_pytorch_cuda")}"
  say "(a) $a"
fi

b='null'
if [[ ",$PARTS," == *,b,* ]]; then
  say "(b) generating $COOKIES cookies over 7 days into a store in $WORK"
  cli generate --seed 1 --cookies "$COOKIES" --duration 7d --bots 0 --out "$WORK/events.ndjson" 2>"$RESULTS/generate.log"
  cli import "$WORK/events.ndjson" --store "$WORK/store" >"$RESULTS/import.json" 2>"$RESULTS/import.log"
  rm -f "$WORK/events.ndjson"
  sessions="$(field "$RESULTS/import.json" sessions)"
  say "(b) $sessions sessions stored"
  ((sessions >= MIN_SESSIONS)) || { say "fewer than $MIN_SESSIONS sessions: raise COOKIES"; exit 1; }
  for backend in webgpu wasm; do
    say "(b) intentstream train --backend $backend --epochs $EPOCHS (in the background)"
    cli train --store "$WORK/store" --backend "$backend" --epochs "$EPOCHS" --out "$WORK/model-$backend" \
      --checkpoint-dir "$WORK/checkpoints-$backend" >"$RESULTS/train-$backend.json" 2>"$RESULTS/train-$backend.log" &
    eval "pid_$backend=$!"
  done
  failed=0
  for backend in webgpu wasm; do
    pid="pid_$backend"
    wait "${!pid}" || { failed=1; say "train --backend $backend failed:"; tail -20 "$RESULTS/train-$backend.log" >&2; }
  done
  ((failed == 0)) || exit 1
  one() {
    local f="$RESULTS/train-$1.json"
    # The trainer logs which code ran each LSTM layer's recurrence ('webgpu kernel', 'tfjs ops', ...).
    local recurrence
    recurrence="$(grep -m1 '"msg":"lstm recurrence"' "$RESULTS/train-$1.log" >"$WORK/recurrence-$1.json" && field "$WORK/recurrence-$1.json" perLayer || echo null)"
    # On webgpu the trainer logs the webgpu step (its dispatches per batch) unless it fell back to tfjs ops.
    local step
    step="$(grep -m1 '"msg":"training with the webgpu step"' "$RESULTS/train-$1.log" >"$WORK/step-$1.json" && field "$WORK/step-$1.json" dispatchesPerStep || echo null)"
    echo "{\"backend\": $(field "$f" backend), \"webgpu_step_dispatches\": $step, \"recurrence\": $recurrence, \"steps_per_s\": $(field "$f" stepsPerSecond), \"test_roc_auc\": $(field "$f" test.rocAuc), \"seconds\": $(field "$f" seconds), \"epochs\": $(field "$f" epochs), \"sessions\": $(field "$f" sessions)}"
  }
  b="{\"stored_sessions\": $sessions, \"webgpu\": $(one webgpu), \"wasm\": $(one wasm)}"
  say "(b) $b"
fi

echo "{\"small\": $((SMALL ? 1 : 0)), \"gpu\": $(cat "$RESULTS/gpu.json"), \"a\": $a, \"b\": $b}" | tee "$RESULTS/acceptance.json"
