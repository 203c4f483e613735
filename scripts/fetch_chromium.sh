#!/usr/bin/env bash
# Chromium for the headless check of the HTML report (tests/report/test_report.py renders the page
# and looks at the screenshot and the DOM).  Installs Debian's `chromium` package with
# apt-get when no chromium is on the PATH (root, as on the development machines and CI);
# refreshes the package lists only when the first try finds nothing.  Idempotent and quiet:
# does nothing when chromium is already there.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "fetch_chromium: not root, cannot apt-get install chromium" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
install() { apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends chromium >/dev/null 2>&1; }
if ! install; then
  apt-get update -qq >/dev/null 2>&1 || true
  install
fi
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]
