"""The lines the command prints about an ``--index`` run."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from dataeval_gpu.cli_index import index_lines


def _report(measured: int, files: int) -> SimpleNamespace:
    up = {"measured": measured, "kept": files - measured, "dropped": 0, "files": files, "generation": 2}
    return SimpleNamespace(config={"index": "idx", "index_update": up}, against=None, paths={})


@pytest.mark.parametrize(
    ("measured", "files", "line"),
    [
        (1, 1, "index idx: 1 file measured, 0 kept, 0 dropped (1 file, generation 2)"),
        (1, 3, "index idx: 1 file measured, 2 kept, 0 dropped (3 files, generation 2)"),
        (0, 2, "index idx: 0 files measured, 2 kept, 0 dropped (2 files, generation 2)"),
    ],
)
def test_index_line_counts_files_in_the_singular_and_plural(measured: int, files: int, line: str) -> None:
    assert index_lines(_report(measured, files)) == ["", line]
