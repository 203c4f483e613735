#!/usr/bin/env bash
# One call on a CUDA machine: the CUDA tests, the main job on CUDA against the CPU, the GPU
# benchmark and the Clusterer; ends with a compact table, exit 1 (and a "gpu-check: FAILED" line)
# when a step fails, times out, or the CUDA scan differs from the CPU scan.
# No registry on the lent machine: run scripts/prepare_gpu_wheels.sh here first and carry .whl.
#   device run: bash scripts/gpu_check.sh    (carry: [".whl", ".gpuphotos"])
# data_cache/photos (80 MB) is over the 64 MiB a call carries: copy a part into an ignored
# folder: prepare_gpu_wheels.sh copies ~24 MB of them to .gpuphotos, the default here.
# Budget: a drawn task has 15 min of device time, the machine's start (1-3 min) and the
# transfers included.  Each step's limit is an env var (T_TESTS, T_PARAM, T_SCAN, T_BENCH,
# T_CLUS; 0 skips the step); the defaults sum to 600 s (150 + 60 + 150 + 120 + 120), and all of
# the script stays within GPU_CHECK_BUDGET (default 570 s from its start: a step gets at most
# what is left, less 10 s for the table; one with under 5 s left is NOT RUN), so that the table
# comes back from a run call of timeout_s=600, a call's limit.  CLUS_N (default
# "100000 1000000") sizes the Clusterer step.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 DATAEVAL_GPU_PROGRESS=0
PY=${PYTHON:-python3}
export PYTHONPATH=$PWD
if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
  # one wheel at a time: a binary wheel for another Python is refused without taking the others with it
  for w in .whl/*.whl; do
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$w" \
      >/dev/null 2>&1 || echo "gpu-check: wheel not installed here: $(basename "$w")"
  done
  export PYTHONPATH=$PWD:/tmp/site  # the machine's own torch / numpy first, the carried wheels after
fi
# GPU_CHECK_FORCE=1 runs the steps without a GPU (to try this script: they fail, the table says so)
if [ "${GPU_CHECK_FORCE:-0}" != 1 ] && ! $PY -c "import torch" >/dev/null 2>&1; then
  # without this, `bash scripts/gpu_check.sh` where python3 lacks torch said "no CUDA device"
  echo "gpu-check: $PY cannot import torch: run it as 'make gpu-check' or with PYTHON=.venv/bin/python" >&2
  exit 1
fi
if [ "${GPU_CHECK_FORCE:-0}" != 1 ] && ! $PY -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  echo "gpu-check: no CUDA device on this machine ($PY); nothing to check"
  exit 0
fi
# $OUT brings back at most 8 files: the logs, the summary and the benchmark JSON; the scans stay in /tmp
out=${OUT:-/tmp/gpu_check}; scans=/tmp/gpu_check_scans; mkdir -p "$out" "$scans"
PHOTOS=${PHOTOS:-$( [ -d .gpuphotos ] && echo .gpuphotos || echo data_cache/photos)}
T_TESTS=${T_TESTS:-150} T_PARAM=${T_PARAM:-60} T_SCAN=${T_SCAN:-150} T_BENCH=${T_BENCH:-120} T_CLUS=${T_CLUS:-120}
CLUS_N=${CLUS_N:-"100000 1000000"}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | sed 's/^/gpu: /'
$PY -c "import torch, numpy; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'numpy', numpy.__version__)"
$PY - <<'PY'
import importlib.util as u
print("modules:", ", ".join(f"{m} {'yes' if u.find_spec(m) else 'NO'}" for m in
      ("pytest", "numba", "faiss", "kornia", "timm", "sklearn", "hypothesis", "pyarrow")))
PY

BUDGET=${GPU_CHECK_BUDGET:-570}
declare -a ROWS=()
FAILED=""
# step NAME LIMIT LOG COMMAND...: runs COMMAND under LIMIT seconds, its output to LOG (tail shown)
step() {
  local name=$1 limit=$2 log=$3; shift 3
  if [ "$limit" = 0 ]; then ROWS+=("$(printf '%-10s %6s %6s  %s' "$name" 0 - skipped)"); return; fi
  local left=$((BUDGET - SECONDS - 10))  # the whole script within GPU_CHECK_BUDGET, the table included
  if [ "$left" -lt 5 ]; then
    FAILED="$FAILED $name"; ROWS+=("$(printf '%-10s %6s %6s  %s' "$name" "$limit" - "NOT RUN (budget spent)")"); return
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  echo "== $name (limit ${limit} s) =="
  local t0=$SECONDS
  timeout "$limit" "$@" >"$log" 2>&1
  local rc=$? secs=$((SECONDS - t0)) res=ok
  tail -n "${TAIL:-15}" "$log"
  if [ $rc = 124 ] || [ $rc = 137 ]; then res="TIMEOUT"; elif [ $rc != 0 ]; then res="FAIL (rc $rc)"; fi
  [ "$name" = scan ] && [ $rc = 1 ] && grep -q "MISMATCH\|DIFFERENT" "$log" && res="MISMATCH (CUDA != CPU)"
  # pytest exits 0 when every test skipped (no CUDA for them): nothing was checked
  case $name in tests|param) [ $rc = 0 ] && ! grep -q "[0-9] passed" "$log" && res="NONE RAN (all skipped)";; esac
  [ "$res" = ok ] || FAILED="$FAILED $name"
  ROWS+=("$(printf '%-10s %6s %6s  %s' "$name" "$limit" "$secs" "$res")")
}

# the CUDA tests: the files that hold @pytest.mark.cuda tests or --device parametrised ones
# (other test modules need packages the GPU image may lack: sklearn, hypothesis)
CUDA_TESTS="tests/functional/test_stats.py tests/functional/test_quality_metrics.py tests/functional/test_knn.py
 tests/functional/test_hashing.py tests/audit/test_feed.py
 tests/detectors/test_duplicates.py tests/embeddings/test_embeddings.py tests/test_guide.py tests/audit/test_faults.py"
if $PY -c "import sklearn" 2>/dev/null; then CUDA_TESTS="$CUDA_TESTS tests/detectors/test_clusterer.py"
else echo "gpu-check: no scikit-learn here: tests/detectors/test_clusterer.py (its CUDA test) not collected"; fi
# shellcheck disable=SC2086
step tests "$T_TESTS" "$out/cuda_tests.log" $PY -m pytest -m cuda --device cuda -q -p no:cacheprovider -o addopts="" $CUDA_TESTS
step param "$T_PARAM" "$out/param_tests.log" $PY -m pytest --device cuda -q -p no:cacheprovider -o addopts="" \
  tests/functional/test_stats.py -k "reference or streaming"
if [ -d "$PHOTOS" ]; then
  step scan "$T_SCAN" "$out/scan.log" bash -c "$PY -m dataeval_gpu.cli scan '$PHOTOS' --device cuda --out '$scans/scan_cuda' --no-progress --quiet \
    && $PY -m dataeval_gpu.cli scan '$PHOTOS' --device cpu --out '$scans/scan_cpu' --no-progress --quiet \
    && $PY scripts/compare_scans.py '$scans/scan_cpu' '$scans/scan_cuda' --strict-rtol 1e-3"
  step bench "$T_BENCH" "$out/bench.log" $PY scripts/bench.py --device cuda --no-ref --only stats,dups,lint \
    --photos "$PHOTOS" --json "$out/bench_cuda.json"
else
  echo "gpu-check: no photos at $PHOTOS (set PHOTOS=, carry it): the scan comparison and the benchmark did not run"
  FAILED="$FAILED scan(no-photos)"
  ROWS+=("$(printf '%-10s %6s %6s  %s' scan "$T_SCAN" - "NOT RUN (no $PHOTOS)")")
fi
step clusterer "$T_CLUS" "$out/clusterer.log" env CLUS_N="$CLUS_N" $PY -c '
import os, time, numpy as np, torch
from dataeval_gpu.detectors.clusterer import Clusterer
rng = np.random.default_rng(0)
for n in map(int, os.environ["CLUS_N"].split()):
    centres = rng.uniform(-10, 10, (10, 128)).astype(np.float32)
    x = centres[rng.integers(0, 10, n)] + rng.normal(size=(n, 128)).astype(np.float32)
    torch.cuda.synchronize(); t0 = time.perf_counter()
    out = Clusterer(x, device="cuda").evaluate()
    torch.cuda.synchronize()
    print(f"clusterer {n:>9} x 128 on cuda: {time.perf_counter() - t0:7.1f} s, outliers {len(out.outliers)}, "
          f"peak GPU mem {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB", flush=True)
'

echo "== gpu-check summary =="
printf '%-10s %6s %6s  %s\n' step limit secs result
printf '%s\n' "${ROWS[@]}" | tee "$out/summary.txt"
if [ -n "$FAILED" ]; then
  echo "gpu-check: FAILED:$FAILED (logs in $out)" | tee -a "$out/summary.txt"
  exit 1
fi
echo "gpu-check: all steps passed" | tee -a "$out/summary.txt"
