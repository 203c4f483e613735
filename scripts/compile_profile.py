"""Which numba kernels a scan's warm-up compiles, and the CPU seconds of each specialization.

Run it with an empty cache for a first run's figures (numba reads the variable at import)::

    NUMBA_CACHE_DIR=$(mktemp -d) python scripts/compile_profile.py            # defaults
    NUMBA_CACHE_DIR=$(mktemp -d) python scripts/compile_profile.py --preset dataeval-0.65
    NUMBA_CACHE_DIR=$(mktemp -d) python scripts/compile_profile.py --serial   # no forked groups

One line per compiled specialization in this process (numba's ``numba:compile`` events):
exclusive CPU seconds (nested compiles subtracted), inclusive, the depth of the nesting and the
argument types; numba's own helpers (``numba.np`` / ``numba.cpython`` / ``numba.misc``) are
summed in one line.  Kernels compiled by ``kernel_warmup.compile_ahead``'s forked processes show
as their CPU seconds only (``children``).  CPU time, not wall time: the machine may be shared.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from numba.core import event  # noqa: E402

ROWS: list[tuple[str, str, float, float, int]] = []
STACK: list[list[float]] = []


class _Timer(event.Listener):
    def on_start(self, e: event.Event) -> None:
        STACK.append([time.process_time(), 0.0])

    def on_end(self, e: event.Event) -> None:
        c0, nested = STACK.pop()
        inc = time.process_time() - c0
        if STACK:
            STACK[-1][1] += inc
        fn = e.data["dispatcher"].py_func
        args = " ".join(str(a) for a in e.data["args"])
        ROWS.append((f"{fn.__module__}.{fn.__qualname__}", args, inc - nested, inc, len(STACK)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default=None)
    ap.add_argument("--serial", action="store_true", help="compile in this process only (as before compile_ahead)")
    args = ap.parse_args()
    event.register("numba:compile", _Timer())
    from dataeval_gpu.audit import DataAudit, files

    if args.serial:
        files.compile_ahead = lambda *a, **k: 0  # type: ignore[attr-defined]
    acc = DataAudit(device="cpu", preset=args.preset).make_accumulator("cpu")
    c0 = time.process_time()
    wall = files.warm_up(acc)
    cpu = time.process_time() - c0
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = [r for r in ROWS if r[0].startswith("dataeval_gpu.")]
    helpers = sum(r[2] for r in ROWS if not r[0].startswith("dataeval_gpu."))
    for name, sig, exc, inc, depth in sorted(own, key=lambda r: -r[2]):
        print(f"{exc:6.2f} {inc:6.2f} {depth} {name.removeprefix('dataeval_gpu.')}({sig[:140]})")
    print(f"{helpers:6.2f}        numba's own helpers ({len(ROWS) - len(own)} specializations)")
    print(f"specializations: {len(own)} of dataeval_gpu; warm_up {wall:.1f} s wall, {cpu:.1f} s CPU here, "
          f"{ch.ru_utime + ch.ru_stime:.1f} s CPU in children")


if __name__ == "__main__":
    main()
