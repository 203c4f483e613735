"""The command line's tests' runner: ``main(argv)``'s exit status, stdout and stderr (one copy,
used by tests/test_cli.py, test_newuser_cli.py and test_newuser2_cli.py)."""

from __future__ import annotations

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
