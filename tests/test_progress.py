"""Progress after the scan loop: the detectors, the save and the report show their steps on
stderr when asked (a terminal by default), and nothing otherwise."""

from __future__ import annotations

import argparse

import torch

from dataeval_gpu.audit import DataAudit
from dataeval_gpu.progress import phase_steps


def _audit() -> DataAudit:
    audit = DataAudit()
    g = torch.Generator().manual_seed(0)
    imgs = torch.randint(0, 256, (6, 3, 24, 24), dtype=torch.uint8, generator=g)
    imgs[5] = imgs[0]
    audit.update(imgs, labels=[0, 1, 0, 1, 0, 1])
    return audit


def test_phase_steps_shows_each_step_and_counts_them(capsys) -> None:
    with phase_steps("save", ["table", "results.csv", "results.json"], enable=True) as step:
        step("table")
        step("results.csv")
        step("results.json")
        step.detail("2,000/4,000 rows")
    err = capsys.readouterr().err
    for text in ("save", "table", "results.csv", "results.json 2,000/4,000 rows", "2/3"):
        assert text in err, text
    with phase_steps("save", ["table"], enable=False) as step:
        step("table")
    assert capsys.readouterr().err == ""


def test_the_detectors_and_the_save_show_their_steps(capsys, tmp_path) -> None:
    audit = _audit()
    report = audit.compute()  # a library call: silent unless asked
    assert capsys.readouterr().err == ""
    shown = audit.compute(progress=True)  # the cached rows, detectors again
    err = capsys.readouterr().err
    for text in ("detectors", "statistics", "linter", "quality issues", "duplicates"):
        assert text in err, text
    assert shown.duplicates["exact"] == report.duplicates["exact"] == [[0, 5]]
    report.save(tmp_path / "a", progress=True)
    err = capsys.readouterr().err
    for text in ("save", "table", "results.csv", "results.json", "6/6 rows", "quality_issues.csv"):
        assert text in err, text
    report.save(tmp_path / "b")
    assert capsys.readouterr().err == ""
    assert (tmp_path / "a" / "results.csv").read_text() == (tmp_path / "b" / "results.csv").read_text()


def test_the_command_line_turns_the_bars_off_with_no_progress_or_quiet() -> None:
    from dataeval_gpu.cli import progress_setting

    ns = lambda **kw: argparse.Namespace(**{"no_progress": False, "quiet": False, **kw})  # noqa: E731
    assert progress_setting(ns()) is None  # on a terminal only
    assert progress_setting(ns(no_progress=True)) is False and progress_setting(ns(quiet=True)) is False


def test_an_index_update_shows_its_detectors_and_rows_file(capsys, tmp_path) -> None:
    """After its scan, ``update_index`` recomputes the findings and writes the rows file
    (minutes at a million images): both on a bar when asked, silent otherwise."""
    import numpy as np
    from PIL import Image

    from dataeval_gpu.index import update_index

    rng = np.random.default_rng(0)
    files = []
    for k in range(4):
        files.append(str(tmp_path / f"{k}.png"))
        Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(files[-1])
    update_index(tmp_path / "idx", files, device="cpu", workers=0, progress=True)
    err = capsys.readouterr().err
    for text in ("detectors", "duplicates", "index", "rows file"):
        assert text in err, text
    update_index(tmp_path / "idx2", files, device="cpu", workers=0, progress=False)
    assert capsys.readouterr().err == ""
