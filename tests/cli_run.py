"""The command line's tests' runner: ``main(argv)``'s exit status, stdout and stderr (one copy,
used by tests/test_cli.py, test_newuser_cli.py and test_newuser2_cli.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from dataeval_gpu.cli import main


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``main(argv)``'s exit status (argparse's errors raise SystemExit), stdout and stderr."""
    capsys.readouterr()
    try:
        status = main(argv)
    except SystemExit as exc:
        status = exc.code  # type: ignore[assignment]
    out, err = capsys.readouterr()
    return status, out, err


def scan_help(capsys: pytest.CaptureFixture[str]) -> str:
    """``dataeval-gpu scan --help`` (exit status 0 checked) as one line: its words joined by single spaces."""
    status, out, _ = run(["scan", "--help"], capsys)
    assert status == 0
    return " ".join(out.split())


def small_pngs(root, n: int = 6):
    """``root / "images"`` with ``n`` random RGB PNGs of ``10 + k`` x 12 px (``im{k}.png``); the folder."""
    import numpy as np
    from PIL import Image

    d = root / "images"
    d.mkdir()
    rng = np.random.default_rng(1)
    for k in range(n):
        Image.fromarray(rng.integers(0, 256, (10 + k, 12, 3), dtype=np.uint8)).save(d / f"im{k}.png")
    return d


def interrupt_feed(monkeypatch: pytest.MonkeyPatch, at: int = 3) -> Callable[[], None]:
    """Ctrl-C at the scan's ``at``-th fed batch (``FeedLoop.feed_rows``; with ``--batch-size 2
    --checkpoint-every 1`` two batches, 4 inputs, are then in the checkpoint); returns the undo."""
    from dataeval_gpu.audit.feed import FeedLoop

    real_feed = FeedLoop.feed_rows
    calls = {"n": 0}

    def feed_then_stop(self: FeedLoop, *a: object, **kw: object) -> int:
        calls["n"] += 1
        if calls["n"] == at:
            raise KeyboardInterrupt
        return real_feed(self, *a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(FeedLoop, "feed_rows", feed_then_stop)
    return lambda: monkeypatch.setattr(FeedLoop, "feed_rows", real_feed)
