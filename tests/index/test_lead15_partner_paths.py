"""The ``--against`` printout names an index partner relative to the current folder when it lies
inside it, absolute otherwise (the index joins its relative rows to the folder it was built from)."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from dataeval_gpu.cli_index import index_lines


def _report(partner: str) -> SimpleNamespace:
    match = {"image": 0, "partner_path": partner, "methods": ["near"], "hamming": 0}
    return SimpleNamespace(
        config={}, against={"index": "photos.idx", "matches": [match]}, paths={0: "in/m.png"}
    )


def test_partner_inside_the_current_folder_is_relative(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    lines = index_lines(_report(str(tmp_path / "photos" / "p3.png")))
    assert "  0:m.png = " + os.path.join("photos", "p3.png") + " (near, hamming 0)" in lines


def test_partner_outside_the_current_folder_stays_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    partner = str(tmp_path / "photos" / "p3.png")
    assert f"  0:m.png = {partner} (near, hamming 0)" in index_lines(_report(partner))
    assert "  0:m.png = photos/p3.png (near, hamming 0)" in index_lines(_report("photos/p3.png"))
