#!/usr/bin/env bash
# The GPU check, for a machine with an NVIDIA GPU and no internet (see docs/engines.md).
#
#   scripts/gpu_check.sh            # on the device machine, from the checkout
#
# Installs what the machine lacks from wheels/gpu (made here by scripts/gpu_wheels.sh),
# builds exllamav3's CUDA extension for the GPU present with every core (timed; kept
# in build/gpu-cache, so a second run on the same machine reuses it), makes the models
# (SmolLM2 as FP16 and EXL3), then prints what GPU_CHECK_STEPS names (default: all):
#   suite   the contract suite on the GPU engine;
#   engine  the engine on each model through the engine host (load, streaming, cancel,
#           unload, VRAM, tokens/s against exllamav3's own loop, the estimate vs NVML);
#   stream  the app in a terminal on the EXL3 model against exllamav3's own loop
#           (bench/exllama_stream.py: tokens on screen, the app's CPU, bytes per token;
#           GPU_STREAM_PAIRED=N: N rounds of the engine alone, the app, the app without
#           NVML meters, one after another).
# It stops itself before GPU_CHECK_BUDGET_S (default 540 s) so what it printed comes back.
set -uo pipefail
cd "$(dirname "$0")/.."
BUDGET=${GPU_CHECK_BUDGET_S:-540}
STEPS=" ${GPU_CHECK_STEPS:-suite engine stream} "
STEPS=${STEPS//,/ }  # "suite,stream" too
wanted() { [[ "$STEPS" == *" $1 "* ]]; }
END=$((SECONDS + BUDGET))
PY=${PYTHON:-python3}
left() { echo $((END - SECONDS)); }
step() { echo; echo "== $* (t=${SECONDS}s, $(left)s left)"; }
# Run "$@" with what is left minus a margin; skip it when that is not enough. SIGINT,
# so Python unwinds; and torch's build lock goes, which a killed build leaves behind.
within() {
  local margin=$1; shift
  local t=$(( $(left) - margin ))
  rm -f "$TORCH_EXTENSIONS_DIR/exllamav3_ext/lock"
  if [ "$t" -lt 20 ]; then echo "skipped: ${t}s left for it"; return 1; fi
  timeout -s INT -k 10 "$t" "$@"
}
export LLAMATUI_CACHE_DIR=${LLAMATUI_CACHE_DIR:-$PWD/build/gpu-cache}
export TORCH_EXTENSIONS_DIR=$LLAMATUI_CACHE_DIR/torch_extensions
export MAX_JOBS=${MAX_JOBS:-$(nproc)}
mkdir -p "$TORCH_EXTENSIONS_DIR" build/gpu-models

step "machine"
nvidia-smi --query-gpu=name,memory.total,memory.used,compute_cap,driver_version --format=csv
$PY -c "import torch, triton; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0), 'triton', triton.__version__)"
$PY -c "import pynvml, psutil, pytest; print('nvml, psutil, pytest: there')"
nvcc --version | tail -1

step "install from wheels/gpu"
$PY -m pip install --quiet --no-index --find-links wheels/gpu --no-deps \
    exllamav3 marisa-trie llguidance ninja textual markdown-it-py mdit-py-plugins \
    linkify-it-py uc-micro-py platformdirs tomli-w gguf rich \
    pydantic pydantic-core annotated-types typing-inspection 2>&1 | tail -3
$PY -m pip install --quiet --no-deps --no-build-isolation -e . 2>&1 | tail -3
$PY -c "import llamatui.engines.registry as r; print('exllama here:', r.get('exllama').unavailable() or 'yes')"

step "build exllamav3's CUDA extension (MAX_JOBS=$MAX_JOBS)"
t0=$SECONDS
within 60 $PY -c "import exllamav3.version as v, exllamav3; print('exllamav3', v.__version__)"
echo "import (build included) took $((SECONDS - t0)) s; objects built so far: $(find "$TORCH_EXTENSIONS_DIR" -name '*.o' | wc -l)"

step "models"
within 120 $PY scripts/gpu_models.py build/gpu-models | tee build/gpu-models/made.txt
FP16=$(awk '/^fp16 /{print $2}' build/gpu-models/made.txt)
EXL3=$(awk '/^exl3 /{print $2}' build/gpu-models/made.txt)

# The EXL3 model loads faster and runs as people run models on a GPU.
FAST=$FP16
[ "$EXL3" != "none" ] && [ -n "$EXL3" ] && FAST=$EXL3

# The contract suite starts an engine per case, with what is left but a minute for
# the figures after it.
if wanted suite; then
  step "contract suite on the GPU engine (pytest -m gpu), on $FAST"
  LLAMATUI_GPU_MODEL=$FAST within 60 $PY -m pytest -q -m gpu -p no:cacheprovider \
      --durations=0 tests/test_engine_contract.py 2>&1 | tail -30
fi

if wanted engine; then
  step "the engine on each model"
  MODELS=$FP16
  [ "$FAST" != "$FP16" ] && MODELS="$FP16 $FAST"
  within 10 $PY scripts/gpu_bench.py $MODELS
fi

if wanted stream; then
  step "the app in a terminal on $FAST"
  within 10 env PYTHONUNBUFFERED=1 $PY bench/exllama_stream.py "$FAST" \
      --lengths "${GPU_STREAM_LENGTHS:-400,1500}" --sizes "${GPU_STREAM_SIZES:-100x30,200x60}" \
      ${GPU_STREAM_PAIRED:+--paired "$GPU_STREAM_PAIRED"}
fi

step "done"
