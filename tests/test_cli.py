"""The command line: a mistake is one line ``dataeval-gpu: error: ...`` and exit status 2
(argparse's convention), never a traceback; a bug still shows its traceback and asks for a
report.  Nothing is scanned or written before the arguments are known to be usable."""

from __future__ import annotations

import errno
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import dataeval_gpu.cli as cli
import dataeval_gpu.cli_args as cli_args
from dataeval_gpu.cli import CHECKPOINT
from dataeval_gpu.cli_args import build_parser, validate_scan_args
from tests.cli_run import run, scan_help

ROOT = Path(__file__).resolve().parents[1]


def assert_usage_error(status: int, err: str, *needles: str) -> None:
    assert status == 2, err
    assert err.startswith("dataeval-gpu: error: ") and err.endswith("\n"), err
    assert err.count("\n") == 1, f"more than one line:\n{err}"
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, f"{needle!r} not in {err!r}"


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--batch-size", "0"], ["--batch-size", ">= 1", "got 0"]),
        (["--batch-size", "many"], ["--batch-size", "'many'"]),
        (["--radius", "-3"], ["--radius", ">= 0", "got -3"]),
        (["--radius", "65"], ["--radius", "0..64", "got 65"]),
        (["--workers", "-1"], ["--workers", ">= 0", "got -1"]),
        (["--limit", "0"], ["--limit", ">= 1", "got 0"]),
        (["--checkpoint-every", "-2"], ["--checkpoint-every", "got -2"]),
        (["--outlier-threshold", "-1"], ["--outlier-threshold", "> 0"]),
        (["--outlier-threshold", "nan"], ["--outlier-threshold", "finite"]),
        (["--outlier-method", "median"], ["--outlier-method", "median"]),
        (["--formats", "csv,xml"], ["--formats", "unknown: xml", "csv, parquet, json"]),
        (["--formats", ","], ["--formats", "csv, parquet, json"]),
        (["--device", "gpu0"], ["--device gpu0", "not a device name"]),
        (["--no-such-option"], ["unrecognized arguments: --no-such-option"]),
    ],
)
def test_bad_option_is_one_line_and_status_2(
    args: list[str], needles: list[str], folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    status, stdout, err = run(["scan", str(folder), "--out", str(out), *args], capsys)
    assert_usage_error(status, err, *needles)
    assert stdout == "" and not out.exists()  # nothing scanned, nothing written


def test_missing_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(["scan", "no/such/dir", "--out", str(tmp_path / "o")], capsys)
    assert_usage_error(status, err, "no/such/dir", "no such folder, file list or image")


def test_path_that_is_a_broken_link(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "data").symlink_to("gone")
    status, _, err = run(["scan", str(tmp_path / "data"), "--out", str(tmp_path / "o")], capsys)
    assert_usage_error(status, err, "broken symbolic link")


def test_cuda_without_cuda(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # as on a machine without CUDA
    status, _, err = run(["scan", str(folder), "--out", str(tmp_path / "o"), "--device", "cuda"], capsys)
    assert_usage_error(status, err, "--device cuda", "CUDA is not available")
    status, _, err = run(["scan", "--out", str(tmp_path / "o"), "--device", "cuda:0"], capsys)
    assert_usage_error(status, err, "--device cuda:0")


def test_gpu_decode_needs_cuda(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    status, _, err = run(["scan", str(folder), "--out", str(tmp_path / "o"), "--gpu-decode"], capsys)
    assert_usage_error(status, err, "--gpu-decode", "needs a CUDA device")
    status, _, err = run(["scan", str(folder), "--out", str(tmp_path / "o"), "--gpu-decode", "--device", "cpu"], capsys)
    assert_usage_error(status, err, "--gpu-decode")


def test_cuda_index_beyond_the_devices(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    status, _, err = run(["scan", str(folder), "--out", str(tmp_path / "o"), "--device", "cuda:3"], capsys)
    assert_usage_error(status, err, "--device cuda:3", "1 CUDA device")


def test_out_is_a_file(folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "taken").write_text("x")
    status, _, err = run(["scan", str(folder), "--out", str(tmp_path / "taken")], capsys)
    assert_usage_error(status, err, "--out", "not a folder")
    status, _, err = run(["scan", str(folder), "--out", str(tmp_path / "taken" / "a" / "b")], capsys)
    assert_usage_error(status, err, "--out", "cannot be created", "taken is not a folder")


def test_resume_without_a_checkpoint(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(["scan", str(folder), "--out", str(tmp_path / "o"), "--resume"], capsys)
    assert_usage_error(status, err, "--resume", "no checkpoint", CHECKPOINT)
    status, _, err = run(["scan", "--out", str(tmp_path / "o"), "--resume"], capsys)  # bundled photos
    assert_usage_error(status, err, "--resume", "PATH")


def test_bad_embeddings_file(folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["scan", str(folder), "--out", str(tmp_path / "o"), "--no-progress"]
    status, _, err = run([*base, "--embeddings", str(tmp_path / "none.npy")], capsys)
    assert_usage_error(status, err, "--embeddings", "no such file")
    (tmp_path / "text.npy").write_text("not numpy")
    status, _, err = run([*base, "--embeddings", str(tmp_path / "text.npy")], capsys)
    # numpy's reason was about pickles: "This file contains pickled (object) data ... allow_pickle="
    assert_usage_error(status, err, "--embeddings", "not an .npy file", "numpy.save")
    assert "pickle" not in err
    np.savez(tmp_path / "emb.npz", emb=np.zeros((5, 4)))
    status, _, err = run([*base, "--embeddings", str(tmp_path / "emb.npz")], capsys)
    assert_usage_error(status, err, "--embeddings", "a zip archive such as np.savez writes", "numpy.save")
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}] * 5, dtype=object), allow_pickle=True)
    status, _, err = run([*base, "--embeddings", str(tmp_path / "objects.npy")], capsys)
    assert_usage_error(status, err, "--embeddings", "not a readable .npy array")
    np.save(tmp_path / "flat.npy", np.zeros(5))
    status, _, err = run([*base, "--embeddings", str(tmp_path / "flat.npy")], capsys)
    assert_usage_error(status, err, "--embeddings", "(N, D)", "(5,)")
    # `scan --embeddings FOLDER`: the folder was taken as the option's value
    status, _, err = run(["scan", "--out", str(tmp_path / "o"), "--embeddings", str(folder)], capsys)
    assert_usage_error(status, err, "--embeddings", "a folder", "after PATH")


def test_embeddings_with_the_wrong_row_count(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """More rows than inputs fits no scan: said before scanning (it was said after the whole scan,
    69 s for the 604 photos, and nothing was written), one line, status 2."""
    np.save(tmp_path / "emb.npy", np.zeros((3, 4), np.float32))
    argv = [
        "scan",
        str(folder),
        "--out",
        str(tmp_path / "o"),
        "--no-progress",
        "--no-plots",
        "--workers",
        "0",
    ]
    status, _, err = run([*argv, "--embeddings", str(tmp_path / "emb.npy")], capsys)
    assert_usage_error(status, err, "3 rows for 1 inputs")
    assert not (tmp_path / "o" / "results.csv").exists()  # nothing was scanned


def test_embeddings_with_one_row_per_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Embeddings made for every file of the folder (a row for a file that then fails to decode
    too) were refused ("7 rows for 6 measured images"): which files fail is known only after the
    scan. One row per input is taken, the failed inputs' rows left out (here a NaN row)."""
    from PIL import Image

    d = tmp_path / "imgs"
    d.mkdir()
    rng = np.random.default_rng(0)
    for k in range(7):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(d / f"{k}.png")
    (d / "3.png").write_bytes(b"")  # input 3 fails
    emb = rng.normal(size=(7, 4)).astype(np.float32)
    emb[3] = np.nan
    emb[6] += 40.0  # far from the rest
    np.save(tmp_path / "per_input.npy", emb)
    np.save(tmp_path / "per_measured.npy", np.delete(emb, 3, axis=0))
    found = []
    for name in ("per_input", "per_measured"):
        out = tmp_path / name
        argv = ["scan", str(d), "--out", str(out), "--no-progress", "--no-plots", "--workers", "0"]
        status, _, err = run([*argv, "--embeddings", str(tmp_path / f"{name}.npy")], capsys)
        assert status == 0, err
        found.append(json.loads((out / "findings.json").read_text())["clusters"])
    assert found[0] == found[1]
    assert 6 in found[0]["outliers"] + found[0]["potential_outliers"]
    np.save(tmp_path / "five.npy", emb[:5])
    status, _, err = run([*argv, "--embeddings", str(tmp_path / "five.npy")], capsys)
    assert_usage_error(status, err, "5 rows for 6 measured images", "one per input: 7", "without the Clusterer's")
    # known only after the scan: its results are written all the same (they were thrown away)
    written = json.loads((tmp_path / "per_measured" / "findings.json").read_text())
    assert written["clusters"] == {} and len(json.loads((tmp_path / "per_measured" / "results.json").read_text())["images"]) == 7


def test_embeddings_file_with_a_non_finite_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A measured image's embedding of NaN (an image with NaN pixels embeds to one) stopped the
    scan with "internal error ... this is a bug" (the Clusterer refuses non-finite data); as in a
    scan that embeds, it is listed in ``not_clustered`` and left out, its cluster cells missing,
    the other images clustered as without it."""
    from PIL import Image

    d = tmp_path / "imgs"
    d.mkdir()
    rng = np.random.default_rng(0)
    for k in range(6):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(d / f"{k}.png")
    emb = rng.normal(size=(6, 4))
    emb[5] += 40.0  # far from the rest
    with_nan = emb.copy()
    with_nan[2, 1] = np.nan
    np.save(tmp_path / "nan.npy", with_nan)
    argv = ["scan", str(d), "--out", str(tmp_path / "o"), "--no-progress", "--workers", "0", "--formats", "csv,json"]
    status, _, err = run([*argv, "--embeddings", str(tmp_path / "nan.npy")], capsys)
    assert status == 0, err
    clusters = json.loads((tmp_path / "o" / "findings.json").read_text())["clusters"]
    assert list(clusters["not_clustered"]) == ["2"]
    assert (tmp_path / "o" / "report.html").exists()
    import pandas as pd

    table = pd.read_csv(tmp_path / "o" / "results.csv")
    assert table["cluster_outliers"].isna().tolist() == [False, False, True, False, False, False]
    assert 5 in clusters["outliers"] + clusters["potential_outliers"]
    # the others as the Clusterer finds them without the image (positions 0, 1, 3, 4, 5)
    from dataeval_gpu.detectors.clusterer import Clusterer

    alone = Clusterer(np.delete(emb, 2, axis=0), method="auto").evaluate()
    back = [0, 1, 3, 4, 5]
    assert sorted(clusters["outliers"]) == sorted(back[i] for i in alone.outliers)


def test_missing_optional_package(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = cli_args.importlib.util.find_spec
    monkeypatch.setattr(cli_args.importlib.util, "find_spec", lambda m: None if m == "pyarrow" else real(m))
    status, _, err = run(
        ["scan", str(folder), "--out", str(tmp_path / "o"), "--formats", "csv,parquet"], capsys
    )
    assert_usage_error(status, err, "--formats parquet", "pyarrow", "dataeval_gpu[report]")


def test_a_bug_shows_its_traceback_and_asks_for_a_report(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(args: object) -> int:
        raise KeyError("oops")

    monkeypatch.setattr(cli, "_run_scan", broken)
    status, _, err = run(["scan", str(folder), "--out", str(tmp_path / "o")], capsys)
    assert status == 1
    assert "Traceback (most recent call last)" in err and "KeyError: 'oops'" in err
    assert err.rstrip().splitlines()[-1].startswith("dataeval-gpu: error: internal error (KeyError)")
    assert "please report it" in err


def test_an_environment_error_is_one_line_status_1(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def disk_full(args: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "o" / "results.csv"))

    monkeypatch.setattr(cli, "_run_scan", disk_full)
    status, _, err = run(["scan", str(folder), "--out", str(tmp_path / "o")], capsys)
    assert status == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("dataeval-gpu: error: No space left on device: ") and "results.csv" in err


def test_interrupted_is_one_line_status_130(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_run_scan", interrupted)
    status, _, err = run(["scan", str(folder), "--out", str(tmp_path / "o")], capsys)
    # it said only "interrupted": a user could not tell whether anything could be continued
    assert status == 130
    assert err == "dataeval-gpu: error: interrupted before the first checkpoint (every 20 batches): nothing was saved to --resume\n"
    status, _, err = run(["scan", str(folder), "--out", str(tmp_path / "o"), "--checkpoint-every", "0"], capsys)
    assert status == 130 and err == "dataeval-gpu: error: interrupted with --checkpoint-every 0: nothing was saved to --resume\n"


def test_interrupted_with_a_checkpoint_says_resume(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ctrl-C during a scan with ``--checkpoint-every`` leaves a checkpoint; the one line says
    where and that ``--resume`` continues (it said only "interrupted")."""
    out = tmp_path / "o"

    def interrupted(args: object) -> int:
        out.mkdir()
        (out / CHECKPOINT).write_bytes(b"state")
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_run_scan", interrupted)
    status, _, err = run(["scan", str(folder), "--out", str(out), "--checkpoint-every", "2"], capsys)
    assert status == 130 and err.count("\n") == 1
    assert err.startswith("dataeval-gpu: error: interrupted; ") and str(out / CHECKPOINT) in err
    assert "with --resume to continue" in err


def test_help_states_the_worker_default(capsys: pytest.CaptureFixture[str]) -> None:
    """--help said min(4, cores) workers; on the CPU the scan uses one per core
    (``audit.files.default_workers``)."""
    from dataeval_gpu.audit.files import available_cores, default_workers

    text = scan_help(capsys)
    assert default_workers(True) == available_cores()
    assert "one per core on the CPU" in text and "--no-progress no progress bar" in text


def test_help_states_the_file_list_rule(capsys: pytest.CaptureFixture[str]) -> None:
    text = scan_help(capsys)
    assert "looked up in the current directory first, then in the list's own folder" in text
    assert "2 a mistake on the command line" in text


def test_help_states_which_files_a_folder_scan_skips(capsys: pytest.CaptureFixture[str]) -> None:
    """The help said every file of a folder counts "whatever its suffix", while fonts, scripts and
    README files are skipped (listed in skipped.txt): the Stellarium folder skips 2,296 of them."""
    text = scan_help(capsys)
    assert "whatever its suffix" not in text
    assert "named or encoded like an image counts" in text and "OUT/skipped.txt" in text


def test_valid_arguments_pass_and_formats_are_normalised(folder: Path, tmp_path: Path) -> None:
    args = build_parser().parse_args(
        ["scan", str(folder), "--out", str(tmp_path / "o"), "--formats", " CSV ,json,csv", "--radius", "64"]
    )
    validate_scan_args(args)
    assert args.formats == "csv,json" and args.radius == 64


def test_the_installed_command_prints_one_line(tmp_path: Path) -> None:
    """The real process: what a user sees in the terminal, and the exit status."""
    proc = subprocess.run(
        [sys.executable, "-m", "dataeval_gpu.cli", "scan", "no/such/dir", "--out", str(tmp_path / "o")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == "dataeval-gpu: error: PATH no/such/dir: no such folder, file list or image\n"
    assert proc.stdout == ""


def test_the_summary_lists_the_images_with_quality_issues(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With the default quality issues a constant image is low-information: the printed summary
    names it with its score against the threshold, one line per image with a quality issue."""
    from PIL import Image

    d = tmp_path / "images"
    d.mkdir()
    rng = np.random.default_rng(0)
    for k in range(6):
        smooth = Image.fromarray(rng.integers(0, 256, (6, 8, 3)).astype(np.uint8)).resize(
            (64, 48), Image.BILINEAR
        )
        smooth.save(d / f"photo{k}.png")
    Image.fromarray(np.full((48, 64, 3), 128, np.uint8)).save(d / "flat.png")
    status, out, err = run(
        ["scan", str(d), "--out", str(tmp_path / "o"), "--no-plots", "--no-progress", "--workers", "0"],
        capsys,
    )
    assert status == 0, err
    block = out.split("\nquality issues (", 1)[1].split("\n\n", 1)[0]
    lines = block.splitlines()[1:]
    assert any(
        "flat.png" in line and "low_information: score" in line and "threshold" in line for line in lines
    )
    # one line per image findings.json lists with quality issues (here: all 7, the smooth upscaled
    # pictures are blurry), the count in the header
    import json

    flagged = json.loads((tmp_path / "o" / "findings.json").read_text())["quality"]
    assert block.startswith(f"{len(flagged)} images):") and len(lines) == len(flagged) == 7


def test_the_summary_prints_the_measured_linter_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One image of eight has a single zero pixel in 16 x 16: the Linter flags it for ``zero``
    (1/256 = 0.00390625 against 0 in the others). Its value, rounded to 2 decimals as 0.65's
    Linter does, printed as ``zero=0.0``; the summary prints the measured value."""
    from PIL import Image

    d = tmp_path / "images"
    d.mkdir()
    rng = np.random.default_rng(0)
    for k in range(8):
        a = rng.integers(1, 256, (16, 16), dtype=np.uint8)
        if k == 3:
            a[0, 0] = 0
        Image.fromarray(a).save(d / f"im{k}.png")
    status, out, err = run(
        ["scan", str(d), "--out", str(tmp_path / "o"), "--no-plots", "--no-progress", "--workers", "0"],
        capsys,
    )
    assert status == 0, err
    block = out.split("\nflagged by the linter (", 1)[1].split("\n\n", 1)[0]
    # newuser12: "outside the range of the metric's values" read as out of the values' own range
    assert block.splitlines()[0] == "1 image; each value against its metric's unflagged range):"
    lines = block.splitlines()[1:]
    assert len(lines) == 1 and "im3.png" in lines[0]
    assert re.search(r"zero=0\.003906 \(> 0\.00\d+\)$", lines[0].rstrip()), lines[0]  # value, then why
    # the path in the scanned folder (newuser5: it was the absolute path, cut to its end)
    assert lines[0].split()[1] == "im3.png", lines[0]
    # a path longer than its 40 columns is shown as its end, marked as cut
    from dataeval_gpu.cli_print import tail

    path = str(d / "im3.png")
    assert len(path) > 40 and tail(path) == "..." + path[-37:]  # was path[-40:], cut anywhere


def test_a_folder_with_nothing_to_scan_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """A folder holding only metadata (or nothing) scanned silently as "0 images"; the run
    still writes its (empty) results, and a warning names the folder and the rule."""
    d = tmp_path / "labels_only"
    d.mkdir()
    (d / "labels.json").write_text("{}")
    (d / ".hidden.png").write_bytes(b"")
    status, out, err = run(["scan", str(d), "--out", str(tmp_path / "o"), "--no-plots", "--no-progress"], capsys)
    assert status == 0, err
    assert f"{d}: no files to scan" in caplog.text and ".json" in caplog.text
    assert (tmp_path / "o" / "results.csv").is_file()


def test_a_file_list_with_no_paths_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """A file list of comments only was warned about with the folder rule ("metadata files such
    as .txt ... are left out"), which reads as if the list itself had been left out."""
    (tmp_path / "list.txt").write_text("# the images of run 3\n\n# (none yet)\n")
    status, _, err = run(["scan", str(tmp_path / "list.txt"), "--out", str(tmp_path / "o"), "--no-plots", "--no-progress"], capsys)
    assert status == 0, err
    assert f"{tmp_path / 'list.txt'}: a file list with no paths in it (only blank lines and # comments)" in caplog.text
    assert "no files to scan" not in caplog.text


def test_the_summary_names_the_classes_of_a_class_tree(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A class tree's labels were in results.csv and the report but not in the printout: a user
    could not tell whether the folder names were taken as labels."""
    from PIL import Image

    d = tmp_path / "images"
    rng = np.random.default_rng(0)
    for cls, n in (("cat", 2), ("dog", 3)):
        (d / cls).mkdir(parents=True)
        for k in range(n):
            Image.fromarray(rng.integers(0, 256, (12, 12), dtype=np.uint8)).save(d / cls / f"{k}.png")
    flags = ["--no-plots", "--no-progress", "--workers", "0"]
    status, out, err = run(["scan", str(d), "--out", str(tmp_path / "o"), *flags], capsys)
    assert status == 0, err
    assert "\nlabels: 2 classes from the folder names (cat 2, dog 3)\n" in out
    status, out, err = run(["scan", str(d / "dog"), "--out", str(tmp_path / "o2"), *flags], capsys)
    assert status == 0 and "labels:" not in out  # a flat folder has none


def test_several_paths_say_path_is_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``scan *.png`` (the shell expands the glob) was "unrecognized arguments: " and every name
    on one line; it says that PATH is one and how to give several."""
    names = [str(tmp_path / f"{k}.png") for k in range(6)]
    status, _, err = run(["scan", *names, "--out", str(tmp_path / "o")], capsys)
    assert_usage_error(status, err, "scan takes one PATH", "got 5 more", "(5 in all)", "list them in a text file")
    assert names[1] in err and names[5] not in err
    status, _, err = run(["scan", names[0], names[1], "--bogus"], capsys)  # an option among them: as argparse says
    assert_usage_error(status, err, "unrecognized arguments:", "--bogus")


def test_duplicate_groups_name_files_by_their_path_in_the_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Duplicate groups were printed by file name alone: every wallpaper pair of a theme folder
    read "2560x1600.jpg, screenshot.jpg". They show the path inside the scanned folder."""
    from PIL import Image

    d = tmp_path / "wallpapers"
    rng = np.random.default_rng(0)
    for theme in ("Autumn", "Kite"):
        (d / theme / "images").mkdir(parents=True)
        img = Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))
        img.save(d / theme / "images" / "2560x1600.png")
        img.save(d / theme / "screenshot.png")
    status, out, err = run(
        ["scan", str(d), "--out", str(tmp_path / "o"), "--no-plots", "--no-progress", "--workers", "0"], capsys
    )
    assert status == 0, err
    block = out.split("\nexact duplicate groups (2):\n", 1)[1].split("\n\n", 1)[0]
    assert block.splitlines() == [
        f"  0:{Path('Autumn/images/2560x1600.png')}, 1:{Path('Autumn/screenshot.png')}",
        f"  2:{Path('Kite/images/2560x1600.png')}, 3:{Path('Kite/screenshot.png')}",
    ]


def test_file_names_that_are_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file or folder name in Latin-1 (an old archive unpacked on Linux) stopped the whole scan at
    the save: "internal error (UnicodeEncodeError) ... surrogates not allowed". Such a name is
    measured, failed or skipped like any other, and written with its odd bytes as \\xe9."""
    import pandas as pd
    from PIL import Image

    if sys.getfilesystemencoding().lower() not in ("utf-8", "utf8"):
        pytest.skip("needs a UTF-8 file system encoding")
    d = tmp_path / os.fsdecode(b"photos-caf\xe9")
    d.mkdir()
    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (24, 32, 3), dtype=np.uint8))
    img.save(d / os.fsdecode(b"caf\xe9.png"))
    img.save(d / "copy.png")
    (d / os.fsdecode(b"trunc\xe9.png")).write_bytes((d / "copy.png").read_bytes()[:60])
    (d / os.fsdecode(b"font\xe9.ttf")).write_bytes(b"\x00\x01\x00\x00 not an image")
    out = tmp_path / "o"
    status, printed, err = run(["scan", str(d), "--out", str(out), "--no-progress", "--workers", "0"], capsys)
    assert status == 0, err
    rows = pd.read_csv(out / "results.csv", encoding="utf-8")
    assert [Path(p).name for p in rows["path"]] == ["caf\\xe9.png", "copy.png", "trunc\\xe9.png"]
    assert rows["status"].tolist() == ["ok", "ok", "failed"]
    assert (out / "skipped.txt").read_text(encoding="utf-8").strip().endswith("font\\xe9.ttf")
    assert json.loads((out / "findings.json").read_text())["duplicates"]["exact"] == [[0, 1]]
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "caf\\xe9.png" in page and "photos-caf\\xe9" in page
    assert "0:caf\\xe9.png, 1:copy.png" in printed


def test_the_last_line_says_when_the_scan_compiled_its_kernels() -> None:
    """The first scan after an install spends ~30 s compiling (numba): the last line says so
    instead of reporting it as slow measuring; a warm cache (~0.4 s) adds nothing."""
    from dataeval_gpu.cli import compile_note
    from dataeval_gpu.progress import COMPILE_NOTE_S

    assert compile_note(None) == "" and compile_note(0.4) == "" and compile_note(COMPILE_NOTE_S) == ""
    assert compile_note(28.94) == " (28.9 s of it compiling the CPU kernels, once: later scans reuse them)"


def test_a_scan_without_labels_has_no_label_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A flat folder (or a file list) has no labels, yet results.csv / results.json gave every
    row ``label`` -1, as if -1 were a class (the docs: ``label`` "when known"; ``DataAudit``
    without labels has no such column).  A class tree keeps its labels, a failed file's too."""
    import pandas as pd
    from PIL import Image

    d = tmp_path / "images"
    rng = np.random.default_rng(0)
    for cls in ("cat", "dog"):
        (d / cls).mkdir(parents=True)
        for k in range(2):
            Image.fromarray(rng.integers(0, 256, (12, 12), dtype=np.uint8)).save(d / cls / f"{k}.png")
    (d / "dog" / "broken.png").write_bytes(b"")
    for workers in ("0", "1"):
        flags = ["--no-plots", "--no-progress", "--quiet", "--workers", workers]
        status, _, err = run(["scan", str(d / "dog"), "--out", str(tmp_path / f"flat{workers}"), *flags], capsys)
        assert status == 0, err
        flat = pd.read_csv(tmp_path / f"flat{workers}" / "results.csv")
        assert "label" not in flat.columns and flat["status"].tolist() == ["ok", "ok", "failed"]
        rows = json.loads((tmp_path / f"flat{workers}" / "results.json").read_text())["images"]
        assert len(rows) == 3 and all("label" not in r for r in rows)
        status, _, err = run(["scan", str(d), "--out", str(tmp_path / f"tree{workers}"), *flags], capsys)
        assert status == 0, err
        tree = pd.read_csv(tmp_path / f"tree{workers}" / "results.csv")
        assert tree["label"].tolist() == [0, 0, 1, 1, 1]  # cat/0, cat/1, dog/0, dog/1, dog/broken
