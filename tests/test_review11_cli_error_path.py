"""review11: the one-line error message escapes the control characters of the path it names
(before: ``PATH /tmp/x<ESC>[31m...`` wrote a raw escape sequence to the terminal)."""

from __future__ import annotations

import pytest


def test_error_line_escapes_an_escape_character(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    from dataeval_gpu.cli import main

    missing = tmp_path / "nope\x1b[31mred"
    status = main(["scan", str(missing), "--device", "cpu", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status != 0
    assert "\x1b" not in err
    assert f"PATH {tmp_path}/nope\\x1b[31mred: no such" in err
    assert err.count("\n") == 1
