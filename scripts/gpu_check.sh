#!/usr/bin/env bash
# One call on a CUDA machine: the CUDA test subset, then the GPU benchmark; prints a short table.
# On the lent H200 (no registry there): run scripts/prepare_gpu_wheels.sh here first and carry .whl.
#   device run: bash scripts/gpu_check.sh    (carry: [".whl", "data_cache/photos"])
# data_cache/photos (80 MB) is over the 64 MiB a call carries: copy a part into an ignored
# folder and name it, e.g. PHOTOS=.gpuphotos (carry ".gpuphotos").  Each step's time limit is
# an env var (T_TESTS, T_PARAM, T_SCAN, T_BENCH, T_CLUS; 0 skips the step); the defaults sum to
# 13.5 min (240 + 120 + 150 + 180 + 120 s): lower them, or skip steps, to fit a shorter call.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 DATAEVAL_GPU_PROGRESS=0
PY=${PYTHON:-python3}
if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi
if ! $PY -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  echo "gpu-check: no CUDA device on this machine ($PY); nothing to check"
  exit 0
fi
out=${OUT:-/tmp/gpu_check}; mkdir -p "$out"
PHOTOS=${PHOTOS:-data_cache/photos}
T_TESTS=${T_TESTS:-240} T_PARAM=${T_PARAM:-120} T_BENCH=${T_BENCH:-180} T_CLUS=${T_CLUS:-120}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | sed 's/^/gpu: /'
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
echo "== CUDA tests =="
[ "$T_TESTS" = 0 ] || timeout "$T_TESTS" $PY -m pytest -m cuda --device cuda -q -p no:cacheprovider -o addopts="" tests 2>&1 | tee "$out/cuda_tests.log" | tail -25
echo "== device-parametrised tests on cuda =="
[ "$T_PARAM" = 0 ] || timeout "$T_PARAM" $PY -m pytest --device cuda -q -p no:cacheprovider -o addopts="" tests/functional/test_stats.py -k "reference or streaming" 2>&1 | tail -5
echo "== the main job on CUDA against the CPU (same files) =="
if [ "${T_SCAN:-150}" != 0 ] && [ -d "$PHOTOS" ]; then
  timeout "${T_SCAN:-150}" bash -c "$PY -m dataeval_gpu.cli scan '$PHOTOS' --device cuda --out '$out/scan_cuda' --no-progress --quiet && $PY -m dataeval_gpu.cli scan '$PHOTOS' --device cpu --out '$out/scan_cpu' --no-progress --quiet && $PY scripts/compare_scans.py '$out/scan_cpu' '$out/scan_cuda'" 2>&1 | tail -30
fi
echo "== GPU benchmark =="
[ "$T_BENCH" = 0 ] || timeout "$T_BENCH" $PY scripts/bench.py --device cuda --no-ref --only stats,dups,lint --photos "$PHOTOS" --json "$out/bench_cuda.json" 2>&1 | tee "$out/bench.log"
echo "== Clusterer on GPU (1,000,000 x 128, faiss GPU index when faiss-gpu is installed, torch otherwise) =="
[ "$T_CLUS" = 0 ] || timeout "$T_CLUS" $PY - <<'PY' 2>&1 | tail -8
import time, numpy as np, torch
from dataeval_gpu.detectors.clusterer import Clusterer
rng = np.random.default_rng(0)
for n in (100_000, 1_000_000):
    centres = rng.uniform(-10, 10, (10, 128)).astype(np.float32)
    x = centres[rng.integers(0, 10, n)] + rng.normal(size=(n, 128)).astype(np.float32)
    torch.cuda.synchronize(); t0 = time.perf_counter()
    out = Clusterer(x, device="cuda").evaluate()
    torch.cuda.synchronize()
    print(f"clusterer {n:>9} x 128 on cuda: {time.perf_counter() - t0:7.1f} s, "
          f"outliers {len(out.outliers)}, peak GPU mem {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")
PY
