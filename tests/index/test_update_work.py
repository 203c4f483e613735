"""update_index runs the detectors once: its scan of the new files only measures them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dataeval_gpu.audit import DataAudit, scan_files
from dataeval_gpu.index import update_index
from dataeval_gpu.io import discover

from .test_index import KW, assert_same_report, fresh, make_folder

pytest.importorskip("pyarrow")


def _count_computes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of measured rows of each ``DataAudit.compute`` call, in order."""
    calls: list[int] = []
    real = DataAudit.compute

    def counted(self, *a, **kw):  # noqa: ANN001, ANN002, ANN003, ANN202
        calls.append(len(self.measured_rows()[0]))
        return real(self, *a, **kw)

    monkeypatch.setattr(DataAudit, "compute", counted)
    return calls


def test_update_index_computes_the_findings_once_over_every_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = make_folder(tmp_path / "data", range(12))
    files, labels, names = discover(data)
    calls = _count_computes(monkeypatch)
    first = update_index(tmp_path / "idx", files, labels, class_names=names, **KW)
    assert calls == [12]  # was [12, 12]: the scan's own report, thrown away, then the merged rows'
    make_folder(data, range(100, 104))  # 4 new files: measured, 12 kept
    files, labels, names = discover(data)
    calls.clear()
    second = update_index(tmp_path / "idx", files, labels, class_names=names, **KW)
    assert second.config["index_update"]["measured"] == 4
    assert calls == [16]  # was [4, 16]
    monkeypatch.undo()
    assert_same_report(second, fresh(data))
    assert first.config["index_update"]["measured"] == 12


def test_scan_files_without_findings_returns_the_fed_audit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = make_folder(tmp_path / "data", range(6))
    files, labels, names = discover(data)
    calls = _count_computes(monkeypatch)
    audit = scan_files(files, labels, class_names=names, findings=False, **KW)
    assert calls == []
    assert isinstance(audit, DataAudit)
    idx, rows, _ = audit.measured_rows()
    np.testing.assert_array_equal(np.sort(idx), np.arange(6))
    monkeypatch.undo()
    assert_same_report(audit.compute(), fresh(data))
