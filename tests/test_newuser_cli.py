"""The command line as a new user meets it: contradictory options are one-line errors, an output
folder that cannot be created names ``--out``, the printout shows every kind of duplicate group
the results hold (embedding near duplicates too), long groups stay readable, and a missing file
of a file list is not said to have been removed "after the folder was listed"."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import dataeval_gpu.cli_print as cli_print
from dataeval_gpu.io import read_image_bytes
from tests.cli_run import interrupt_feed, run, small_pngs


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--radius", "3"], "--no-hashes and --radius"),
        (["--d4"], "--no-hashes and --d4"),
        (["--hash", "dhash"], "--no-hashes and --hash dhash"),
        (["--radius", "0", "--d4"], "--no-hashes and --radius, --d4"),
    ],
)
def test_no_hashes_with_a_hash_option_is_a_usage_error(
    extra: list[str], named: str, folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    status, stdout, err = run(["scan", str(folder), "--out", str(out), "--no-hashes", *extra], capsys)
    assert status == 2, err
    assert err.startswith(f"dataeval-gpu: error: {named}: ") and err.count("\n") == 1, err
    assert "leave out --no-hashes" in err and "Traceback" not in err
    assert stdout == "" and not out.exists()  # checked before anything is written


def test_no_hashes_alone_and_with_the_plain_hash_still_scan(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    status, _, err = run(
        ["scan", str(folder), "--out", str(out), "--no-hashes", "--no-d4", "--hash", "pchash", "--no-plots",
         "--no-progress", "--quiet"],
        capsys,
    )  # fmt: skip
    assert status == 0, err
    assert (out / "results.csv").is_file()


def test_out_that_cannot_be_created_names_the_option(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The checks pass (as for root in /proc) but mkdir fails: one line naming --out, status 2."""
    out = tmp_path / "cannot"
    real_mkdir = Path.mkdir

    def mkdir(self: Path, *a: object, **kw: object) -> None:
        if self == out:
            raise FileNotFoundError(2, "No such file or directory", str(self))
        real_mkdir(self, *a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "mkdir", mkdir)
    status, _, err = run(["scan", str(folder), "--out", str(out), "--no-plots", "--no-progress"], capsys)
    assert status == 2, err
    assert err == f"dataeval-gpu: error: --out {out}: cannot be created (No such file or directory)\n"


def _print(lines: list[str]) -> None:
    for line in lines:  # as cli.py prints them
        print(line)


def _report(duplicates: dict, paths: dict) -> SimpleNamespace:
    return SimpleNamespace(duplicates=duplicates, paths=paths)


def test_printout_lists_embedding_near_duplicate_groups(capsys: pytest.CaptureFixture[str]) -> None:
    paths = {i: f"/data/img{i}.jpg" for i in range(6)}
    report = _report({"exact": [[0, 1]], "near": [], "embedding": [[2, 5], [3, 4]]}, paths)
    _print(cli_print.duplicate_lines(report))
    out = capsys.readouterr().out
    assert "exact duplicate groups (1):\n  0:img0.jpg, 1:img1.jpg\n" in out
    assert "near duplicate groups" not in out.replace("embedding near duplicate groups", "")
    assert "embedding near duplicate groups (2):\n  2:img2.jpg, 5:img5.jpg\n  3:img3.jpg, 4:img4.jpg\n" in out


def test_printout_shortens_long_and_many_groups(capsys: pytest.CaptureFixture[str]) -> None:
    paths = {i: f"/data/img{i}.jpg" for i in range(40)}
    groups = [list(range(12))] + [[k, k + 1] for k in range(12, 40, 2)]  # one of 12, then 14 pairs
    _print(cli_print.duplicate_lines(_report({"exact": groups}, paths)))
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "exact duplicate groups (15):"
    assert lines[2] == "  " + ", ".join(f"{i}:img{i}.jpg" for i in range(6)) + ", ... (12 in all)"
    assert lines[3] == "  12:img12.jpg, 13:img13.jpg"
    assert len(lines) == 2 + 10 + 1 and lines[-1] == "  ... and 5 more (see findings.json)"


def test_one_class_is_singular(capsys: pytest.CaptureFixture[str]) -> None:
    _print(cli_print.label_lines(SimpleNamespace(class_names=["default"], labels={0: 0, 1: 0, 2: 0})))
    assert capsys.readouterr().out == "labels: 1 class from the folder names (default 3)\n"
    _print(cli_print.label_lines(SimpleNamespace(class_names=["a", "b"], labels={0: 0, 1: 1, 2: 1})))
    assert capsys.readouterr().out == "labels: 2 classes from the folder names (a 1, b 2)\n"


def test_missing_listed_file_reason_does_not_speak_of_a_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as caught:
        read_image_bytes(tmp_path / "missing.jpg")
    # the reason also fits a file list's entry (it spoke only of a folder listing)
    assert str(caught.value) == "no such file (missing, or removed after the folder was listed / the file list was read)"


def test_embeddings_that_took_the_path_say_how_to_embed(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``scan --embeddings IMAGE`` (no PATH: argparse gave the image to --embeddings) says how
    to embed with the model; with a PATH the plain reason stays."""
    image = folder / "a.png"
    status, _, err = run(["scan", "--embeddings", str(image), "--out", str(tmp_path / "o")], capsys)
    assert status == 2 and err.count("\n") == 1, err
    assert "not an .npy file" in err and "put --embeddings after PATH or write --embeddings=model" in err
    status, _, err = run(["scan", str(folder), "--embeddings", str(image), "--out", str(tmp_path / "o")], capsys)
    assert status == 2 and "not an .npy file" in err and "--embeddings=model" not in err, err


def test_embeddings_of_text_name_their_dtype(folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "labels.npy"
    np.save(path, np.array([["cat", "dog"]]))
    status, _, err = run(["scan", str(folder), "--embeddings", str(path), "--out", str(tmp_path / "o")], capsys)
    assert status == 2, err
    assert err == f"dataeval-gpu: error: --embeddings {path}: expected a numeric (N, D) array, got shape (1, 2) of dtype <U3\n"


def test_resumed_scan_says_how_much_came_from_the_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A scan continued with --resume said nothing of the checkpoint: its last line counted every
    input as scanned in this run's seconds.  It now says how many the checkpoint held."""


    d = small_pngs(tmp_path)
    out = tmp_path / "o"
    argv = ["scan", str(d), "--out", str(out), "--batch-size", "2", "--checkpoint-every", "1", "--workers", "0",
            "--no-plots", "--no-progress"]  # fmt: skip
    # the CPU scan measures in the workers (here: the main process) and feeds rows: two batches
    # (4 inputs) are in the checkpoint when Ctrl-C comes
    undo = interrupt_feed(monkeypatch)
    status, _, err = run(argv, capsys)
    assert status == 130 and "--resume" in err, err
    undo()
    status, stdout, err = run([*argv, "--resume"], capsys)
    assert status == 0, err
    assert "\nresumed from the checkpoint: 4 of 6 inputs were measured before it, 2 in this run\n" in stdout
    status, stdout, err = run(argv, capsys)  # a fresh scan says nothing of a checkpoint
    assert status == 0 and "resumed from the checkpoint" not in stdout


def test_quality_issue_names_are_the_detectors() -> None:
    from dataeval_gpu.cli_args import QUALITY_ISSUES
    from dataeval_gpu.detectors.quality import DEFAULT_THRESHOLDS, ISSUES

    assert QUALITY_ISSUES == tuple(ISSUES) == tuple(DEFAULT_THRESHOLDS)


def test_quality_threshold_option_overrides_a_threshold(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The command line had no way to change a quality issue's threshold (DataAudit's
    ``quality_thresholds``); ``--quality-threshold ISSUE=VALUE`` sets it, the last one counting."""
    import json

    from PIL import Image

    d = tmp_path / "images"
    d.mkdir()
    rng = np.random.default_rng(4)
    yy, xx = np.mgrid[0:40, 0:48]
    for k in range(12):  # smooth pictures, one of them with strong noise
        a = (60 + 3 * k + xx + yy).astype(np.float64)
        if k == 5:
            a = a + rng.normal(0, 40, a.shape)
        Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).save(d / f"im{k:02d}.png")
    common = ["--no-plots", "--no-progress", "--workers", "0"]
    status, _, err = run(["scan", str(d), "--out", str(tmp_path / "a"), *common], capsys)
    assert status == 0, err
    noisy = {k: v for k, v in json.loads((tmp_path / "a" / "findings.json").read_text())["quality"].items()}
    assert [int(k) for k, why in noisy.items() if any(w.startswith("noisy:") for w in why)] == [5], noisy
    argv = ["scan", str(d), "--out", str(tmp_path / "b"), "--quality-threshold", "noisy=1",
            "--quality-threshold", "noisy=1000", "--quality-threshold", "dark=0.5", *common]  # fmt: skip
    status, _, err = run(argv, capsys)
    assert status == 0, err
    found = json.loads((tmp_path / "b" / "findings.json").read_text())
    assert not any(w.startswith("noisy:") for why in found["quality"].values() for w in why)
    assert found["quality_thresholds"]["noisy"] == 1000.0
    assert found["quality_thresholds"]["dark"] == 0.5
    config = json.loads((tmp_path / "b" / "config.json").read_text())
    assert config["quality_thresholds"] == {"noisy": 1000.0, "dark": 0.5}


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--quality-threshold", "dark"], "argument --quality-threshold: expected ISSUE=VALUE (e.g. dark=0.7), got 'dark'"),
        (["--quality-threshold", "darkk=1"], "argument --quality-threshold: unknown quality issue 'darkk'; expected one of dark, "),
        (["--quality-threshold", "dark=x"], "argument --quality-threshold: the threshold of dark must be a number, got 'x'"),
        (["--quality-threshold", "dark=nan"], "the threshold of dark must be a finite number, got nan"),
        (["--quality-threshold", "dark=1", "--no-quality"], "--quality-threshold: the quality issues are off (--no-quality)"),
        (["--quality-threshold", "dark=1", "--preset", "dataeval-0.65"], "off (--preset dataeval-0.65)"),
    ],
)
def test_quality_threshold_mistakes_are_one_line(
    extra: list[str], needle: str, folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, stdout, err = run(["scan", str(folder), "--out", str(tmp_path / "o"), *extra], capsys)
    assert status == 2 and err.startswith("dataeval-gpu: error: ") and err.count("\n") == 1, err
    assert needle in err and stdout == "" and not (tmp_path / "o").exists()


def test_a_second_scan_into_the_same_out_is_refused(folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two scans into one --out overwrote each other's checkpoint and results (the second one
    died with "No such file or directory: .../checkpoint.pt.tmp", exit 1).  While one holds the
    folder, another is a one-line error naming its process; once it is done the folder is free."""
    import os
    import subprocess
    import sys
    import textwrap

    out = tmp_path / "o"
    out.mkdir()
    holder = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})
        from pathlib import Path
        from dataeval_gpu.cli import out_lock
        with out_lock(Path({str(out)!r})):
            print("locked", flush=True)
            sys.stdin.readline()
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", holder], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        status, stdout, err = run(["scan", str(folder), "--out", str(out), "--no-plots", "--no-progress"], capsys)
        assert status == 2, err
        assert err == (
            f"dataeval-gpu: error: --out {out}: another dataeval-gpu scan (process {proc.pid}) is writing there; "
            "wait for it to finish or give another --out\n"
        )
        assert not (out / "results.csv").exists()
    finally:
        proc.communicate("\n", timeout=60)
    status, _, err = run(["scan", str(folder), "--out", str(out), "--no-plots", "--no-progress", "--quiet"], capsys)
    assert status == 0 and (out / "results.csv").is_file(), err
    status, _, err = run(["scan", str(folder), "--out", str(out), "--no-plots", "--no-progress", "--quiet"], capsys)
    assert status == 0, err  # the same process scans into it again: the lock went with the scan
    assert os.listdir(out).count(".dataeval-gpu.lock") == 1


def test_out_lock_on_a_file_system_without_locks_scans_unlocked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno
    import fcntl

    from dataeval_gpu.cli import out_lock

    def no_locks(fd: int, op: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "lockf", no_locks)
    entered = False
    with out_lock(tmp_path):
        entered = True
    assert entered
