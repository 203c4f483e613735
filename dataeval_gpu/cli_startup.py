"""The program's process around the scan (start-up to exit, issue 14): what is imported in the
background while the scan's workers measure (:func:`preload`), and the start-up's imports run
without the garbage collector (:func:`program_start`, :func:`collector_after_imports`).

Standard library only: ``dataeval-gpu --help`` and a mistake on the command line stay fast.
"""

from __future__ import annotations

import gc
import importlib
import logging
import threading

__all__ = ["AFTER_SCAN", "AFTER_SCAN_REPORT", "collector_after_imports", "preload", "program_start"]

logger = logging.getLogger("dataeval_gpu")

#: what the command imports after the scan (results tables, detectors; the HTML report's
#: modules unless ``--no-plots``): imported by a background thread while the scan's workers
#: measure, when the main process waits anyway (start-up to exit, issue 14)
AFTER_SCAN = ("pandas", "dataeval_gpu.audit.report", "dataeval_gpu.detectors.duplicates",
              "dataeval_gpu.detectors.near_duplicates", "dataeval_gpu.detectors.quality")  # fmt: skip
AFTER_SCAN_REPORT = ("dataeval_gpu.report.html",)


#: set by :func:`program_start`: the process is the program's (``"program"``), whose start-up runs
#: without the garbage collector (``"gc_off"``: turned off there, not yet back on)
_PROCESS = {"program": False, "gc_off": False}


def collector_after_imports() -> None:
    """The program's start-up imports ran without the garbage collector (:func:`program_start`,
    from ``cli.run``): its full collections walked every object of torch's modules, 3-5 times
    during ``import torch`` alone (0.2-0.45 s before the first file was read) and once more while the post-scan modules
    were imported during the scan (0.3-0.7 s taken from the workers' cores).  Here, after the
    imports, the objects made so far are frozen out of the collector (:func:`gc.freeze`: they
    are modules, functions and classes, kept until the exit anyway) and it is turned back on,
    so that later collections, in this process and in the forked workers, walk only what is
    made after.  Does nothing where the collector was not turned off by :func:`program_start` (a
    caller of ``cli.main``: tests, scripts)."""
    if _PROCESS["gc_off"]:
        _PROCESS["gc_off"] = False
        gc.freeze()
        gc.enable()


def preload(modules: tuple[str, ...]) -> threading.Thread:
    """Import ``modules`` in a background (daemon) thread; returns it.  A module that fails to
    import is left for the code that needs it to import again (and report).  The imports run
    without the garbage collector, and what exists after them is frozen out of it (as after
    the start-up's: :func:`collector_after_imports`), where the process is the program's: a full
    collection in the middle of pandas' import walked every object of it (0.15-0.7 s of CPU
    taken from the scan's workers)."""

    def work() -> None:
        quiet = _PROCESS["program"] and gc.isenabled()  # pandas' objects, like torch's, live until the exit
        if quiet:
            gc.disable()
        try:
            for name in modules:
                try:
                    importlib.import_module(name)
                except Exception:  # noqa: BLE001 - imported again where needed, which reports the error
                    logger.debug("preloading %s failed", name, exc_info=True)
        finally:
            if quiet:
                gc.freeze()
                gc.enable()

    thread = threading.Thread(target=work, name="dataeval-gpu-preload", daemon=True)
    thread.start()
    return thread


def program_start() -> None:
    """The program (``cli.run``) owns its process: the start-up's imports run without the
    garbage collector until :func:`collector_after_imports`, and :func:`preload`'s too."""
    _PROCESS["program"] = True
    if gc.isenabled():  # back on, with the imported objects frozen, once the scan's imports are done
        gc.disable()
        _PROCESS["gc_off"] = True
