"""The ``dataeval-gpu`` program's entry point: a Ctrl-C while the program's modules are imported
(its first ~0.1 s) ends it as a later one does, with one line ``dataeval-gpu: error: interrupted``
and exit status 130, not a Python traceback.  It imports only ``os``, ``signal`` and ``sys``, which
the interpreter's start-up has already loaded (no ``typing``: ~5 ms in which a Ctrl-C was still
Python's; no ``from __future__ import annotations`` either, which imports the ``__future__`` module).

Before this module's :func:`run` sets its handler, a Ctrl-C is Python's: the interpreter's
start-up (``site`` and its ``.pth`` imports), the installed script's own ``import re`` and the
imports of ``dataeval_gpu`` and this module.  Python's handler raises ``KeyboardInterrupt`` in
whatever Python code runs next, and when that is a callback whose exceptions Python only reports -
importlib frees each module's import lock through a weakref callback - the interrupt is printed
as "Exception ignored in: <function _get_module_lock.<locals>.cb ...>" and lost: the program
starts as if none came.  That window is the interpreter's, not the program's (~20-50 ms, longer
under load); the program keeps its own part of it to nothing but the two module bodies.

:func:`quiet_interrupt` sets a SIGINT handler that does so; ``cli.main`` puts Python's own back
(:func:`own_interrupts`) once the arguments are parsed, where its ``except KeyboardInterrupt``
says what a ``--resume`` can continue.  ``python -m dataeval_gpu.cli`` sets it first thing too.
"""

import os
import signal
import sys

__all__ = ["interrupt_message", "own_interrupts", "quiet_interrupt", "run"]

#: the exit status of an interrupted scan (``cli_args.EXIT_INTERRUPTED``, not imported: start-up)
INTERRUPTED = 130

#: the line :func:`_interrupted` writes (:func:`interrupt_message` words it for the command's state)
_MESSAGE = [b"dataeval-gpu: error: interrupted\n"]


def _interrupted(signum: int, frame: object) -> None:
    try:
        os.write(2, _MESSAGE[0])
    except OSError:  # stderr closed: nothing more can be said
        pass
    os._exit(INTERRUPTED)


def quiet_interrupt() -> None:
    """From now until :func:`own_interrupts`, a Ctrl-C (SIGINT) ends the process at once with one
    line and status 130 (the start-up's imports: nothing is written yet, nothing to save)."""
    try:
        signal.signal(signal.SIGINT, _interrupted)
    except ValueError:  # not the main thread (an application's): its handling stays
        pass


def interrupt_message(text: str) -> None:
    """What a Ctrl-C under :func:`quiet_interrupt`'s handler says from now (after
    ``dataeval-gpu: error: ``): ``cli.main`` words it as its ``except KeyboardInterrupt`` would,
    before the scan's heavy imports (torch, numpy), which run under that handler: a
    ``KeyboardInterrupt`` raised inside an import was lost in importlib's callbacks (the scan
    went on, status 0) or turned into numpy's ``ImportError`` (a traceback)."""
    _MESSAGE[0] = f"dataeval-gpu: error: {text}\n".encode(errors="backslashreplace")


def own_interrupts() -> None:
    """Python's own SIGINT handling (``KeyboardInterrupt``) back, where :func:`quiet_interrupt` set
    its handler (else nothing changes: a test's or an application's handler stays)."""
    if signal.getsignal(signal.SIGINT) is _interrupted:  # set by quiet_interrupt, in the main thread
        signal.signal(signal.SIGINT, signal.default_int_handler)


def run() -> None:
    """``dataeval-gpu``: :func:`quiet_interrupt`, then ``cli.run`` (imported here)."""
    quiet_interrupt()
    from .cli import run as program

    program()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run())
