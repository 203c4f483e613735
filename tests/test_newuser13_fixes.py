"""newuser13's pass (2026-12-08): a new user's awkward inputs and interruptions.

* A Ctrl-C while the results were being written (the scan and the detectors done) said
  "interrupted before the first checkpoint ...: nothing was saved to --resume", beside a folder
  holding ``results.csv`` and the rest but no ``report.html``.
* A scan into an ``--out`` that held an interrupted scan's checkpoint, run without ``--resume``,
  replaced the checkpoint without a word.
* A ``--resume`` run's last line read ``604 images in 30.2 s (17.38 images/s)``: the rate was of
  the 524 inputs fed after the checkpoint.
* ``scan --help`` said ``"#" starts a comment`` of a file list, where only a line starting with
  ``#`` is one: ``a.jpg  # note`` failed as a missing file named ``a.jpg  # note``, its reason
  not saying why.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from dataeval_gpu import cli
from dataeval_gpu.cli_args import CHECKPOINT
from dataeval_gpu.cli_results import speed_text
from dataeval_gpu.discovery import find_inputs
from tests.cli_run import run, scan_help, small_pngs


def test_interrupted_while_writing_says_the_files_may_be_incomplete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = small_pngs(tmp_path, 3)
    out = tmp_path / "o"
    seen = {}

    def save(report, out_dir, *a, **kw):  # the scan is done; Ctrl-C during the save
        seen["rows"] = report.total
        (Path(out_dir) / "results.csv").write_text("index,path\n")  # one file written, the rest not
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "save_and_report", save)
    status, _, err = run(["scan", str(folder), "--out", str(out), "--no-progress"], capsys)
    assert seen["rows"] == 3 and status == 130
    assert err.count("\n") == 1 and "nothing was saved" not in err
    assert err == (
        f"dataeval-gpu: error: interrupted while writing the results: the files in {out} may be "
        "incomplete; run the command again\n"
    )


def test_interrupted_before_writing_keeps_its_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only the writing phase says so: an interruption during the scan still says what --resume can do."""
    folder = small_pngs(tmp_path, 3)

    def scanned(*a, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "scan_files", scanned)
    status, _, err = run(["scan", str(folder), "--out", str(tmp_path / "o"), "--no-progress"], capsys)
    assert status == 130
    assert err == "dataeval-gpu: error: interrupted before the first checkpoint (every 20 batches): nothing was saved to --resume\n"


def test_a_checkpoint_replaced_without_resume_is_said(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    folder = small_pngs(tmp_path, 3)
    out = tmp_path / "o"
    out.mkdir()
    (out / CHECKPOINT).write_bytes(b"an interrupted scan's state")
    with caplog.at_level(logging.WARNING):
        status, _, _ = run(["scan", str(folder), "--out", str(out), "--no-progress", "--no-plots"], capsys)
    assert status == 0 and not (out / CHECKPOINT).exists()  # the scan ran afresh and finished
    said = [r.getMessage() for r in caplog.records if "checkpoint" in r.getMessage()]
    assert said == [
        f"{out / CHECKPOINT}: an interrupted scan's checkpoint; this scan starts afresh and replaces it "
        "(to continue that scan instead, stop this one with Ctrl-C and run it with --resume)"
    ]
    caplog.clear()
    with caplog.at_level(logging.WARNING):  # no checkpoint there now: nothing said
        status, _, _ = run(["scan", str(folder), "--out", str(out), "--no-progress", "--no-plots"], capsys)
    assert status == 0 and not [r for r in caplog.records if "checkpoint" in r.getMessage()]


def test_resumed_rate_is_of_the_inputs_fed_after_the_checkpoint() -> None:
    def report(total: int, **config: object) -> SimpleNamespace:
        return SimpleNamespace(total=total, config=config)

    # 524 of 604 fed after the checkpoint in 30.15 s: 17.38 a second, not 604 / 30.15
    assert round(524 / 30.15, 2) == 17.38
    assert speed_text(report(604, images_per_s=17.38, resumed_from=80)) == (
        " (524 measured in this run, 17.38 images/s; the rest from the checkpoint)"
    )
    assert speed_text(report(604, images_per_s=20.03)) == " (20.03 images/s)"
    assert speed_text(report(604, images_per_s=20.03, resumed_from=0)) == " (20.03 images/s)"
    # an --index run keeps its own words
    assert speed_text(report(38, images_per_s=97.45, index_update={"measured": 2})) == (
        " (2 images measured, 97.45 images/s; the rest read from the index)"
    )


def test_help_says_a_comment_is_a_whole_line(capsys: pytest.CaptureFixture[str]) -> None:
    text = scan_help(capsys)
    assert '"#" starts a comment' not in text
    assert 'a text file with one path per line (a line starting with "#" is a comment)' in text


def test_a_trailing_comment_in_a_file_list_is_named_in_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    rgb = np.random.default_rng(13).integers(0, 256, (12, 14, 3), dtype=np.uint8)
    for name in ("a.png", "b.png", "c #1.png"):
        Image.fromarray(rgb).save(tmp_path / name)
    listing = tmp_path / "list.txt"
    listing.write_text(f"a.png  # the cat\r\n{tmp_path / 'b.png'} # abs\r\nc #1.png\r\nmissing.png # x\r\n# a comment\r\n")
    found = find_inputs(str(listing))
    assert found.files == ["a.png  # the cat", f"{tmp_path / 'b.png'} # abs", "c #1.png", "missing.png # x"]
    hint = "a '#' starts a comment only at the start of a line, and {!r} before it is a file: put the comment on a line of its own"
    assert found.not_found["a.png  # the cat"].endswith("; " + hint.format("a.png"))
    assert found.not_found["a.png  # the cat"].startswith("no such file: a relative path")
    assert found.not_found[f"{tmp_path / 'b.png'} # abs"] == "no such file; " + hint.format(str(tmp_path / "b.png"))
    assert "c #1.png" not in found.not_found  # a name that holds " #" and exists is read as it is
    assert "'#'" not in found.not_found["missing.png # x"]  # nothing before the '#' exists: no hint
    # in a failed row's reason, as the scan gives it
    failed = {0: "FileNotFoundError: no such file", 1: "FileNotFoundError: no such file", 3: "FileNotFoundError: no such file"}
    found.name_missing(found.files, failed)
    assert failed[1] == "FileNotFoundError: no such file; " + hint.format(str(tmp_path / "b.png"))


@pytest.mark.parametrize("first", [True, False])
def test_a_file_list_naming_a_latin1_file_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], first: bool
) -> None:
    """``find . -name '*.jpg' > list.txt`` over a folder with a Latin-1 name (``caf\\xe9.jpg``, which a
    folder scan measures) wrote a list that is not UTF-8: with that name in its first 64 bytes the
    list was scanned as one image (``unknown or unsupported image format (first bytes: 61 2e ...)``),
    further down it was refused (``not a text file of paths (not UTF-8 text)``)."""
    import os
    import sys

    import pandas as pd

    if sys.getfilesystemencoding().lower() not in ("utf-8", "utf8"):
        pytest.skip("needs a UTF-8 file system encoding")
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(7)
    pictures = {name: rng.integers(0, 256, (16 + k, 20, 3), dtype=np.uint8) for k, name in enumerate(["a.png", "b.png"])}
    for name, arr in pictures.items():
        Image.fromarray(arr).save(name)
    latin = os.fsdecode(b"caf\xe9.png")
    Image.fromarray(pictures["a.png"][:, ::-1].copy()).save(latin)
    lines = [b"caf\xe9.png", b"a.png", b"b.png"] if first else [b"a.png", b"b.png"] * 20 + [b"caf\xe9.png"]
    (tmp_path / "list.txt").write_bytes(b"\n".join(lines) + b"\n")
    found = find_inputs("list.txt")
    assert found.files == [os.fsdecode(x) for x in lines] and not found.not_found
    status, _, err = run(["scan", "list.txt", "--out", "o", "--no-progress", "--no-plots", "--workers", "0"], capsys)
    assert status == 0, err
    rows = pd.read_csv(tmp_path / "o" / "results.csv")
    at = lines.index(b"caf\xe9.png")
    assert rows.loc[at, "path"] == "caf\\xe9.png" and rows.loc[at, "status"] == "ok"
    assert (rows.loc[at, "width"], rows.loc[at, "height"]) == (20, 16)
    assert set(rows["status"]) == {"ok"}


def test_a_binary_file_is_still_no_file_list(tmp_path: Path) -> None:
    from dataeval_gpu.errors import InvalidArgumentError

    data = tmp_path / "blob.dat"
    data.write_bytes(b"abc/def.png\n" * 10 + bytes(range(256)))  # control bytes after lines of text
    with pytest.raises(InvalidArgumentError, match="not a text file of paths"):
        find_inputs(str(data))
    data.write_bytes(b"abc/def.png\n" + bytes(range(256)))  # within its first 64 bytes: one file to scan
    assert find_inputs(str(data)).files == [str(data)]


def test_scanning_into_the_scanned_folder_counts_no_earlier_results_as_metadata(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``scan d --out d`` twice: the second printed ``not scanned: metadata beside the images, 7 files
    (.json 4, .csv 2, .txt 1)``, the first scan's own results files.  A note of the user's is still
    counted, and so is a ``results.csv`` of the user's in a folder that holds no earlier scan."""
    rng = np.random.default_rng(3)
    for k in range(3):
        Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(tmp_path / f"p{k}.png")
    (tmp_path / "notes.txt").write_text("my notes\n")
    (tmp_path / "results.csv").write_text("mine\n")  # the user's own, before any scan
    assert sorted(Path(m).name for m in find_inputs(str(tmp_path), out=str(tmp_path)).metadata) == ["notes.txt", "results.csv"]
    flags = ["--out", str(tmp_path), "--no-progress", "--workers", "0", "--formats", "csv,json,parquet"]
    for _ in range(2):
        status, printed, err = run(["scan", str(tmp_path), *flags], capsys)
        assert status == 0, err
    assert (tmp_path / "results.parquet").is_file() and (tmp_path / "skipped.txt").exists() is False
    found = find_inputs(str(tmp_path), out=str(tmp_path))
    assert [Path(f).name for f in found.files] == ["p0.png", "p1.png", "p2.png"]
    assert [Path(m).name for m in found.metadata] == ["notes.txt"]
    assert "not scanned: metadata beside the images, 1 file (.txt 1)" in printed
    # scanned into another folder, the same files are metadata beside the images, as before
    other = find_inputs(str(tmp_path), out=str(tmp_path / "elsewhere"))
    assert sorted(Path(m).name for m in other.metadata) == sorted(
        ["notes.txt", "results.csv", "results.json", "results.parquet", "summary.json", "findings.json", "config.json"]
        + [n for n in ("quality_issues.csv", "quality_issues.parquet", "skipped.txt") if (tmp_path / n).exists()]
    )


_ORPHAN_SCRIPT = """
import os, sys, time
from dataeval_gpu.audit.workers import run_in_workers

pids = sys.argv[1]

def task(item):
    with open(pids, "a") as f:
        f.write(f"{os.getpid()}\\n")
    time.sleep(120)  # a long measurement: the parent is killed meanwhile
    return item

for _ in run_in_workers(task, list(range(4)), 2):
    pass
"""


def _alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is ended, only not reaped (its parent is gone: init reaps it)
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGKILL"])
def test_workers_end_with_a_killed_scan(tmp_path: Path, sig: str) -> None:
    """A scan's main process ended by SIGTERM (a scheduler's time limit, ``timeout``) or SIGKILL (the
    out-of-memory killer) left its forked workers waiting for ever, reparented to init."""
    import os
    import signal
    import subprocess
    import sys
    import time

    pids = tmp_path / "pids.txt"
    script = tmp_path / "orphans.py"
    script.write_text(_ORPHAN_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, str(script), str(pids)], env=env)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (not pids.exists() or len(pids.read_text().split()) < 2):
            time.sleep(0.2)
        workers = [int(p) for p in pids.read_text().split()]
        assert len(workers) == 2 and all(_alive(p) for p in workers)
        proc.send_signal(getattr(signal, sig))
        proc.wait(30)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(_alive(p) for p in workers):
            time.sleep(0.2)
        left = [p for p in workers if _alive(p)]
    finally:
        if proc.poll() is None:
            proc.kill()
    for p in left:  # before the fix: end them here, not leave them to the machine
        os.kill(p, signal.SIGKILL)
    assert left == []
