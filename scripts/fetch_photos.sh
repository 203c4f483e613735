#!/usr/bin/env bash
# Real photos for benchmarks and the folder-scan tests, from Debian packages (no install,
# nothing at run time): opencv-doc's example and tutorial JPEGs, mate-backgrounds and
# ukui-wallpapers. Unpacked with dpkg -x; the JPEGs whose short side is >= 64 px are copied
# flat into data_cache/photos/. Idempotent: does nothing when the folder is already filled.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
if [ -z "${PYTHON:-}" ] && [ -x "$here/.venv/bin/python" ]; then PYTHON="$here/.venv/bin/python"; fi
case "${PYTHON:-}" in */*) PYTHON="$(cd "$(dirname "$PYTHON")" && pwd)/$(basename "$PYTHON")" ;; esac  # we cd below
dest="${1:-$here/data_cache/photos}"
min_count="${MIN_PHOTOS:-500}"
if [ -d "$dest" ] && [ "$(find "$dest" -name '*.jpg' | wc -l)" -ge "$min_count" ]; then
  echo "photos already in $dest ($(find "$dest" -name '*.jpg' | wc -l) files)"
  exit 0
fi
for tool in apt-get dpkg; do
  command -v "$tool" >/dev/null || { echo "error: $tool not found: the photos come from Debian packages" >&2; exit 1; }
done
"${PYTHON:-python3}" -c "import PIL" 2>/dev/null || { echo "error: ${PYTHON:-python3} has no Pillow (run make setup first)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
if ! apt-get download opencv-doc mate-backgrounds ukui-wallpapers >/dev/null 2>&1; then
  apt-get update -qq >/dev/null 2>&1 || true
  apt-get download opencv-doc mate-backgrounds ukui-wallpapers >/dev/null
fi
for f in *.deb; do dpkg -x "$f" x; done
mkdir -p "$dest"
"${PYTHON:-python3}" - "$work/x" "$dest" <<'PY'
import hashlib, sys
from pathlib import Path
from PIL import Image
src, dest = Path(sys.argv[1]), Path(sys.argv[2])
n = 0
for p in sorted(src.rglob("*")):
    if p.suffix.lower() not in (".jpg", ".jpeg") or not p.is_file():
        continue
    try:
        with Image.open(p) as im:
            w, h = im.size
    except Exception:
        continue
    if min(w, h) < 64:
        continue
    digest = hashlib.sha1(str(p.relative_to(src)).encode()).hexdigest()[:8]
    (dest / f"{p.stem[:40]}_{digest}.jpg").write_bytes(p.read_bytes())
    n += 1
print(f"{n} photos in {dest}")
PY
