"""review22: the first-run compile groups (``kernel_warmup.compile_ahead``'s forked tasks) call every
kernel the warm-up's measurement calls, so that a first scan after a cache wipe compiles them all
side by side and its own process only loads them.  terrain16's seam kernel (``seam_rows_u8``) was
missing from ``warm_counts``: compiled serially in the scan's process after the forked groups."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dataeval_gpu.functional import quality_compiled

ROOT = Path(__file__).resolve().parents[1]

GROUPS = """
import importlib, json, numba, torch
from dataeval_gpu.audit import DataAudit
from dataeval_gpu.audit.files import one_thread
from dataeval_gpu.functional.kernel_cache import KERNEL_MODULES
from dataeval_gpu.kernel_warmup import warm_counts, warm_hashes
from dataeval_gpu.functional import quality_compiled

mods = [importlib.import_module("dataeval_gpu." + m[:-3].replace("/", ".")) for m in KERNEL_MODULES]

def loaded():
    return {f"{mod.__name__}.{name}:{sig}" for mod in mods for name, obj in vars(mod).items()
            if isinstance(obj, numba.core.registry.CPUDispatcher) for sig in obj.signatures}

acc = DataAudit(device="cpu").make_accumulator("cpu")
images = [torch.zeros(3, 64, 72, dtype=torch.uint8), torch.zeros(1, 64, 72, dtype=torch.uint8)]  # files.warm_up's
with one_thread():
    quality_compiled.ready()  # compile_ahead's three groups, here in one process
    warm_counts(images, True)
    warm_hashes(acc, images)
    groups = loaded()
    acc.batch_rows(images)  # the warm-up's measurement
print(json.dumps(sorted(loaded() - groups)))
"""


@pytest.mark.skipif(not quality_compiled.ready(), reason="numba kernels unavailable")
def test_compile_groups_call_every_kernel_the_warm_up_measurement_calls() -> None:
    code = f"import sys; sys.path.insert(0, {str(ROOT)!r})\n" + textwrap.dedent(GROUPS)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip().splitlines()[-1] == "[]"
