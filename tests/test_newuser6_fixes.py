"""newuser6's fixes from a new user's pass (2026-12-07): libpng's warnings caught per image instead
of printed, a dataset index inside the scanned folder left out (not counted as metadata), a file
list's missing relative path not resolved against the working directory in the shown paths."""

from __future__ import annotations

import ctypes
import io
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.cli_run import run


def _png_with_bad_sbit(path: Path, seed: int) -> np.ndarray:
    """An RGB PNG with a 1-byte sBIT chunk (RGB needs 3): libpng prints ``sBIT: bad length``
    and ignores the chunk; the pixels decode as written.  Returns them (H, W, 3)."""
    from PIL import Image

    pix = np.random.default_rng(seed).integers(0, 256, (12, 16, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pix).save(buf, "PNG")
    raw = buf.getvalue()
    body = b"sBIT\x08"
    chunk = struct.pack(">I", 1) + body + struct.pack(">I", zlib.crc32(body))
    path.write_bytes(raw[:33] + chunk + raw[33:])  # after the signature (8) and IHDR (25)
    return pix


@pytest.mark.parametrize("workers", ["0", "1"])
def test_libpng_warnings_are_a_note_of_the_image_not_stderr(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], workers: str
) -> None:
    """kstars-data: 127 lines ``libpng warning: sBIT: bad length`` / ``iCCP: ...`` on stderr during
    a scan, unattributed.  Now none reach stderr; each image's are in results.csv's decoder_note,
    counted in the last lines and config.json; the pixels are the file's."""
    from PIL import Image

    d = tmp_path / "data"
    d.mkdir()
    pix = [_png_with_bad_sbit(d / f"bad{k}.png", k) for k in range(2)]
    Image.fromarray(np.full((10, 10, 3), 120, np.uint8)).save(d / "ok.png")
    out = tmp_path / "out"
    args = ["scan", str(d), "--out", str(out), "--no-plots", "--no-progress", "--workers", workers]
    status, printed, err = run(args, capfd)
    assert status == 0, err
    assert "libpng" not in err, err
    df = pd.read_csv(out / "results.csv", keep_default_na=False)
    assert list(df["decoder_note"]) == ["libpng warning: sBIT: bad length"] * 2 + [""]
    assert list(df["status"]) == ["ok"] * 3
    assert [df["mean"][k] for k in range(2)] == pytest.approx([p.astype(np.float64).mean() / 255 for p in pix])
    config = json.loads((out / "config.json").read_text())
    assert config["decoder_warnings"] == "2 images (2 × libpng warning: sBIT: bad length)"
    assert "decoder warnings: 2 images (2 × libpng warning: sBIT: bad length)" in printed


def test_c_stderr_keeps_other_lines_and_decode_bytes_is_quiet(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """Only the decoder's lines are caught: anything else written to fd 2 meanwhile still reaches
    stderr; decode_bytes / decode_file print nothing for such a PNG and decode_bytes_noted names it."""
    from dataeval_gpu.c_stderr import CStderr
    from dataeval_gpu.io import decode_bytes_noted, decode_file

    libc = ctypes.CDLL(None)
    capfd.readouterr()
    msg = b"\rscan 3/9libpng warning: iCCP: known incorrect sRGB profile\nsomething else\n\rscan 4/9"
    with CStderr() as cap:
        libc.write(2, msg, len(msg))
    assert cap.lines == []  # a decoder's line starts a line
    assert capfd.readouterr().err == msg.decode()
    msg = b"libpng warning: iCCP: known incorrect sRGB profile\nsomething else\n\rscan 4/9"
    with CStderr() as cap:
        libc.write(2, msg, len(msg))
    assert cap.lines == ["libpng warning: iCCP: known incorrect sRGB profile"]
    assert capfd.readouterr().err == "something else\n\rscan 4/9"  # as written
    pix = _png_with_bad_sbit(tmp_path / "b.png", 3)
    img = decode_file(tmp_path / "b.png")
    np.testing.assert_array_equal(img.permute(1, 2, 0).numpy(), pix)
    _, note = decode_bytes_noted((tmp_path / "b.png").read_bytes())
    assert note == "libpng warning: sBIT: bad length"
    assert capfd.readouterr().err == ""


def test_an_index_inside_the_scanned_folder_is_not_metadata(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``scan D --index D/idx`` a second time counted the index's files as metadata beside the
    images ("not scanned: metadata ..., 6 files (.npy 4, .parquet 1, .json 1)").  The index is
    left out and said so; a scan without --index recognises it by its manifest and rows too."""
    from dataeval_gpu.discovery import find_inputs
    from tests.cli_run import small_pngs

    d = small_pngs(tmp_path, 3)
    idx = d / "idx"
    for k in range(2):
        args = ["scan", str(d), "--out", str(tmp_path / f"o{k}"), "--index", str(idx), "--no-plots", "--no-progress"]
        status, printed, err = run(args + ["--workers", "0"], capsys)
        assert status == 0, err
        assert "metadata" not in printed, printed[-500:]
    assert f"not scanned: the dataset index {idx}" in printed
    config = json.loads((tmp_path / "o1" / "config.json").read_text())
    assert "metadata_not_scanned" not in config and config["index_not_scanned"] == str(idx)
    found = find_inputs(d)  # no --index given: recognised by manifest.json + rows-*.parquet
    assert [Path(f).name for f in found.files] == ["im0.png", "im1.png", "im2.png"]
    assert found.metadata == [] and found.skipped == [] and found.index_folders == [str(idx)]
    other = d / "notes"  # a folder with a manifest.json alone is not an index
    other.mkdir()
    (other / "manifest.json").write_text("{}")
    assert [Path(f).name for f in find_inputs(d).metadata] == ["manifest.json"]
    found = find_inputs(d, exclude=[other])  # a folder given (--index) is left out whatever it holds
    assert found.metadata == [] and sorted(found.index_folders) == sorted([str(idx), str(other)])


def test_a_missing_relative_path_is_not_placed_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file list of absolute paths and a relative one that does not exist: the relative one
    was resolved against the working directory, so the common folder became an ancestor of both
    (``/`` in general) and the missing file was shown in a folder it never was in
    (``elsewhere/gone/missing.png``).  Its folder is now that of the paths that exist."""
    from dataeval_gpu.report.tables import common_folder, inside_folder

    data = tmp_path / "data"
    data.mkdir()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    paths = {0: str(data / "a.png"), 1: str(data / "sub" / "b.png"), 2: "gone/missing.png"}
    assert common_folder(paths) == str(data)
    assert inside_folder(paths) == {0: "a.png", 1: "sub/b.png", 2: "gone/missing.png"}
    assert inside_folder({0: str(data / "a.png"), 1: "gone/missing.png"}) == {0: "a.png", 1: "gone/missing.png"}
    (tmp_path / "elsewhere" / "here.png").write_bytes(b"")  # a relative path that exists: resolved
    assert common_folder({0: str(data / "a.png"), 1: "here.png"}) == str(tmp_path)


def _square_or_die(x: int) -> int:
    import os
    import signal

    if x == 5:
        os.kill(os.getpid(), signal.SIGKILL)  # as the out-of-memory killer does
    return x * x


def test_run_in_workers_survives_a_killed_worker() -> None:
    """A worker killed (out of memory) broke the pool: BrokenProcessPool ended the scan.  With
    ``on_lost`` the lost items run again alone; only the one that kills its worker again is lost."""
    from concurrent.futures.process import BrokenProcessPool

    from dataeval_gpu.audit.workers import can_fork, run_in_workers

    if not can_fork():
        pytest.skip("no fork here")
    got = list(run_in_workers(_square_or_die, list(range(12)), workers=2, ahead=3, on_lost=lambda x, _reason: ("lost", x)))
    assert got == [x * x for x in range(5)] + [("lost", 5)] + [x * x for x in range(6, 12)]
    with pytest.raises(BrokenProcessPool):  # without on_lost: as before
        list(run_in_workers(_square_or_die, list(range(8)), workers=2, ahead=3))


def test_a_scan_goes_on_when_a_worker_is_killed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """openclipart-png: a worker measuring a 169 MP drawing was killed for memory and the whole
    scan of 8,121 files ended with "internal error (BrokenProcessPool)".  Now that file fails with
    the reason and every other file is measured, in one results.csv."""
    import os
    import signal

    import dataeval_gpu.io as dio
    from dataeval_gpu.audit.workers import LOST_REASON, can_fork
    from tests.cli_run import small_pngs

    if not can_fork():
        pytest.skip("no fork here")
    d = small_pngs(tmp_path, 8)
    killer = (d / "im3.png").read_bytes()
    real = dio.decode_bytes_noted

    def decode(data):  # the worker that reads im3.png dies, every time
        if bytes(data) == killer:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(data)

    monkeypatch.setattr(dio, "decode_bytes_noted", decode)
    out = tmp_path / "out"
    args = ["scan", str(d), "--out", str(out), "--no-plots", "--no-progress", "--workers", "2", "--batch-size", "2"]
    status, printed, err = run(args, capsys)
    assert status == 0, err
    df = pd.read_csv(out / "results.csv", keep_default_na=False)
    assert [Path(p).name for p in df["path"]] == [f"im{k}.png" for k in range(8)]
    assert list(df["status"]) == ["ok"] * 3 + ["failed"] + ["ok"] * 4
    assert df["error"][3] == LOST_REASON
    assert int(df["width"][7]) == 12 and int(df["height"][7]) == 17


def test_report_counts_an_empty_class_folder_as_the_printout_does(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A class tree with an empty class folder: the printout said "labels: 3 classes ... (c 0)",
    the report's card "2 classes" and its chart "of 2 classes" beside a table of 3 rows.  The card
    counts the 3 and says one has no image; the chart's title says so."""
    from PIL import Image

    d = tmp_path / "tree"
    for c in ("a", "b"):
        (d / c).mkdir(parents=True)
        for k in range(3):
            Image.fromarray(np.random.default_rng(k).integers(0, 256, (9, 11 + k, 3), dtype=np.uint8)).save(d / c / f"{k}.png")
    (d / "c").mkdir()
    out = tmp_path / "out"
    status, printed, err = run(["scan", str(d), "--out", str(out), "--no-progress", "--workers", "0"], capsys)
    assert status == 0, err
    assert "labels: 3 classes from the folder names (a 3, b 3, c 0)" in printed
    page = (out / "report.html").read_text()
    assert 'count-classes">3</div><div class="k">classes (1 with no image)</div>' in page


def test_exact_groups_of_one_linked_file_are_said(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """openclipart-png links its drawings into several category folders: 867 of the 942 exact
    duplicate groups were one file under several paths, with nothing to tell them from copies.
    The printout says how many groups are one file (symbolic or hard links)."""
    import os

    from PIL import Image

    d = tmp_path / "d"
    (d / "animals").mkdir(parents=True)
    (d / "birds").mkdir()
    rng = np.random.default_rng(2)
    for k in range(3):
        Image.fromarray(rng.integers(0, 256, (10, 12 + k, 3), dtype=np.uint8)).save(d / "animals" / f"a{k}.png")
    os.symlink(d / "animals" / "a0.png", d / "birds" / "a0.png")  # one file, two paths
    os.link(d / "animals" / "a1.png", d / "birds" / "a1.png")  # a hard link: one file too
    (d / "birds" / "copy2.png").write_bytes((d / "animals" / "a2.png").read_bytes())  # a real copy
    args = ["scan", str(d), "--out", str(tmp_path / "o"), "--no-progress", "--workers", "0"]
    status, printed, err = run(args, capsys)
    assert status == 0, err
    head = "\nexact duplicate groups (3; 3 with different labels: one picture under two classes):"  # newuser7
    assert head + "\n  (2 of them one file reached by several paths" in printed, printed
    page = (tmp_path / "o" / "report.html").read_text()
    assert '<b id="dup-linked">2</b> of the groups are one file reached by several paths' in page


def test_report_failed_section_counts_the_reasons(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """gimp-data: 2,571 SVG icons failed and the report's Failed section was one table of 2,571
    rows, every one "unsupported format: SVG"; the printout counted them by reason, the report
    did not.  It has a "By reason" table above the rows now (the printout's counting, shared; the printout counts past 15 failures)."""
    import re

    d = small_pngs_with_failures(tmp_path)
    out = tmp_path / "out"
    status, printed, err = run(["scan", str(d), "--out", str(out), "--no-progress", "--workers", "0"], capsys)
    assert status == 0, err
    assert "by reason: 14 × ValueError: unsupported format: SVG, 2 × ValueError: empty file" in printed, printed
    page = (out / "report.html").read_text()
    table = page[page.index('id="table-failed-reasons"') :].split("</table>")[0]
    cells = [c.strip() for c in re.findall(r"<t[hd][^>]*>([^<]*)</t[hd]>", table)]
    assert cells[-4:] == ["ValueError: unsupported format: SVG", "14", "ValueError: empty file", "2"], cells


def small_pngs_with_failures(root: Path) -> Path:
    """``root / "images"``: 3 PNGs, 14 SVG drawings and 2 empty PNGs."""
    from tests.cli_run import small_pngs

    d = small_pngs(root, 3)
    for k in range(14):
        (d / f"icon{k}.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>')
    for k in range(2):
        (d / f"empty{k}.png").write_bytes(b"")
    return d
