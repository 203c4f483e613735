"""``--against`` outliers are the scan's Linter findings measured against the indexed collection:
the same metrics as the scan lints (not every quality figure the rows hold)."""

from __future__ import annotations

from pathlib import Path

from dataeval_gpu.index import scan_against, update_index
from dataeval_gpu.io import discover

from .test_index import make_folder


def test_an_indexed_image_against_its_index_has_its_own_lint_flags(tmp_path: Path) -> None:
    """An image already in the index, scanned ``--against`` it, was an outlier of it in
    ``chroma_rg``, ``chroma_bg``, ``channel_spread``, ``grey_p01``, ... (every quality figure in
    the rows), where the index's own scan (the same values, the same distribution) flagged only
    its ``size``: the against-Linter read metrics the scan's Linter never lints."""
    data = make_folder(tmp_path / "data", range(40))
    files, labels, names = discover(data)
    indexed = update_index(tmp_path / "idx", files, labels, class_names=names, workers=0, progress=False)
    own = {indexed.paths[i]: set(m) for i, m in indexed.issues.items()}
    again = scan_against(tmp_path / "idx", files, labels, workers=0, progress=False)
    against = {again.paths[i]: set(m) for i, m in again.against["outliers"].items()}
    assert against == own and len(own) >= 1
    linted = set(indexed.config["linter_flags"])
    assert set().union(*against.values()) <= linted and "chroma_rg" not in linted
