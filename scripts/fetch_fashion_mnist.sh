#!/usr/bin/env bash
# Fashion-MNIST (70,000 labelled 28x28 greyscale images, 10 classes, MIT licence) from
# Debian's `dataset-fashion-mnist` package: downloaded with `apt-get download` and unpacked
# with `dpkg -x` (nothing is installed system-wide, nothing happens at run time).
# The four *-idx?-ubyte.gz files are copied flat into data_cache/fashion-mnist/ (or $1).
# Idempotent: does nothing when the folder already holds them.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
dest="${1:-$here/data_cache/fashion-mnist}"
files=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)
have=0
for f in "${files[@]}"; do [ -s "$dest/$f" ] && have=$((have + 1)); done
if [ "$have" -eq "${#files[@]}" ]; then
  echo "fashion-mnist already in $dest"
  exit 0
fi
for tool in apt-get dpkg; do
  command -v "$tool" >/dev/null || { echo "error: $tool not found: Fashion-MNIST comes from a Debian package" >&2; exit 1; }
done
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
if ! apt-get download dataset-fashion-mnist >/dev/null 2>&1; then
  apt-get update -qq >/dev/null 2>&1 || true
  apt-get download dataset-fashion-mnist >/dev/null
fi
dpkg -x dataset-fashion-mnist_*.deb x
mkdir -p "$dest"
for f in "${files[@]}"; do
  src="$(find x -name "$f" -print -quit)"
  if [ -z "$src" ]; then
    echo "error: $f not found in dataset-fashion-mnist" >&2
    exit 1
  fi
  cp "$src" "$dest/$f"
done
echo "fashion-mnist: ${#files[@]} files in $dest"
