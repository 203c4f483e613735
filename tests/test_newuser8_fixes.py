"""newuser8's fixes from a new user's pass (2026-12-07): a damaged PNG / JPEG / WebP failed with
torchvision's bare words (``RuntimeError: Internal error.`` for a PNG signature followed by zeros),
now with the format and Pillow's reason too; a misspelt option pointed at ``dataeval-gpu --help``,
which lists no scan option, now at ``dataeval-gpu scan --help`` and names the option meant."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from dataeval_gpu.io import ImageFiles, decode_file
from tests.cli_run import run


def _encoded(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buf, fmt)
    return buf.getvalue()


def test_png_signature_and_zeros_names_the_format_and_both_decoders(tmp_path: Path) -> None:
    bad = tmp_path / "b.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    with pytest.raises(RuntimeError) as info:
        decode_file(bad)
    msg = str(info.value)
    # before: "Internal error." alone; Pillow's own word would be "unknown format" for a PNG signature
    assert msg.startswith("damaged PNG file: ") and msg.endswith(" (Pillow: not recognised as an image)")
    assert "Internal error" in msg and "first bytes" not in msg


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_files_carry_pillows_reason(tmp_path: Path, fmt: str) -> None:
    data = _encoded(fmt)
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(data[: len(data) // 2])
    item = ImageFiles([str(path)])[0]
    assert item.image is None
    assert item.error.startswith(f"RuntimeError: damaged {fmt} file: ")
    assert "(Pillow: image file is truncated" in item.error


def test_whole_files_still_decode(tmp_path: Path) -> None:
    path = tmp_path / "ok.png"
    path.write_bytes(_encoded("PNG"))
    img = decode_file(path)
    assert tuple(img.shape) == (3, 64, 64)
    ref = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8).transpose(2, 0, 1)
    assert np.array_equal(img.numpy(), ref)


def test_scan_lists_the_damaged_file_with_the_new_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "imgs"
    folder.mkdir()
    (folder / "good.png").write_bytes(_encoded("PNG"))
    (folder / "zeros.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    status, out, _ = run(["scan", str(folder), "--out", str(tmp_path / "o"), "--no-plots", "--no-progress", "--workers", "0"], capsys)
    assert status == 0
    df = pd.read_csv(tmp_path / "o" / "results.csv").set_index("path")
    row = df.loc[str(folder / "zeros.png")]
    assert row["status"] == "failed"
    assert row["error"] == "RuntimeError: damaged PNG file: Internal error. (Pillow: not recognised as an image)"
    assert df["status"].tolist().count("ok") == 1
    assert "zeros.png: RuntimeError: damaged PNG file: Internal error." in out


def test_misspelt_options_point_at_the_scan_help(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(["scan", "x", "--fromats", "csv", "--qiet", "--checkpoint_every", "3"], capsys)
    assert status == 2 and out == ""
    assert err == (
        "dataeval-gpu: error: unrecognized arguments: --fromats csv --qiet --checkpoint_every 3; did you mean: "
        "--fromats -> --formats, --qiet -> --quiet, --checkpoint_every -> --checkpoint-every "
        "(see 'dataeval-gpu scan --help')\n"
    )


def test_unknown_option_far_from_any_gets_no_guess(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(["scan", "x", "--bogus"], capsys)
    assert status == 2
    assert err == "dataeval-gpu: error: unrecognized arguments: --bogus (see 'dataeval-gpu scan --help')\n"


def test_several_paths_point_at_the_scan_help(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(["scan", "a.png", "b.png", "c.png"], capsys)
    assert status == 2
    assert err.endswith("list them in a text file (see 'dataeval-gpu scan --help')\n")
    assert "got 2 more (b.png, c.png)" in err


def test_top_help_names_the_command_and_where_its_options_are(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(["--help"], capsys)
    assert status == 0
    assert "commands:" in out and "scan " in out
    assert "PATH, the options and the exit statuses: dataeval-gpu scan --help" in out
    status, _, err = run([], capsys)
    assert status == 2
    assert err == "dataeval-gpu: error: the following arguments are required: COMMAND (see 'dataeval-gpu --help')\n"


# --- the last line's compile note: only where kernels were compiled (a busy machine loading them
# from numba's cache for over 3 s said "N s of it compiling the CPU kernels, once" on every scan)


def test_counting_compiles_counts_numba_compiles_only() -> None:
    import numba

    from dataeval_gpu.kernel_warmup import counting_compiles

    @numba.njit(cache=False)
    def plus_one(x):  # a fresh kernel: never in any cache
        return x + 1

    with counting_compiles() as compiled:
        assert plus_one(1) == 2
    assert compiled == [1]
    with counting_compiles() as again:
        assert plus_one(2) == 3  # the same signature: no compile
    assert again == [0]
    with counting_compiles() as other:
        assert plus_one(2.5) == 3.5  # a new signature: compiled
    assert other == [1]


def test_compile_note_needs_a_compile() -> None:
    from dataeval_gpu.cli_results import compile_note

    assert compile_note(5.04, compiled=False) == ""  # a busy machine loading the cached kernels
    assert compile_note(5.04, compiled=True) == " (5.0 s of it compiling the CPU kernels, once: later scans reuse them)"
    assert compile_note(5.04) == compile_note(5.04, compiled=True)  # an older config.json: as before
    assert compile_note(2.0, compiled=True) == ""


def test_warm_up_says_whether_it_compiled(monkeypatch: pytest.MonkeyPatch) -> None:
    from dataeval_gpu.audit import DataAudit, files

    acc = DataAudit(device="cpu", quality=False).make_accumulator("cpu")
    files.warm_up(acc)  # fills (or loads) numba's cache for these settings
    timing: dict = {}
    seconds = files.warm_up(acc, timing)
    assert timing == {"kernels_compiled": False} and seconds > 0  # everything now in this process
    monkeypatch.setattr(files, "available_cores", lambda: 2)
    monkeypatch.setattr(files, "can_fork", lambda: True)
    monkeypatch.setattr(files, "compile_ahead", lambda accumulator, images: 2)  # two children compiled
    files.warm_up(acc, timing)
    assert timing == {"kernels_compiled": True}


# --- ragged_collate and read-only arrays (docs/usage.md's first example printed PyTorch's
# "The given NumPy array is not writable" warning from each loader worker)


def test_ragged_collate_copies_read_only_arrays_without_a_warning() -> None:
    import warnings

    from dataeval_gpu.batching import ragged_collate

    rng = np.random.default_rng(3)
    ro = rng.integers(0, 256, (3, 5, 7), dtype=np.uint8)
    ro.flags.writeable = False
    rw = rng.integers(0, 256, (1, 4, 4), dtype=np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch's UserWarning would raise here
        images, labels = ragged_collate([(ro, 0), (rw, 1)])
    assert labels.tolist() == [0, 1]
    assert np.array_equal(images[0].numpy(), ro) and np.array_equal(images[1].numpy(), rw)
    assert not np.shares_memory(images[0].numpy(), ro)  # a copy the caller may write to
    before = int(ro[0, 0, 0])
    images[0][0, 0, 0] = before ^ 0xFF
    assert images[0][0, 0, 0].item() == before ^ 0xFF and ro[0, 0, 0] == before
    assert np.shares_memory(images[1].numpy(), rw)  # a writable array is still not copied


# --- report.html of an empty folder: the cards said 0 everywhere and nothing said why


def test_report_of_an_empty_folder_says_there_was_nothing_to_scan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty, one = tmp_path / "empty", tmp_path / "one"
    empty.mkdir()
    one.mkdir()
    (empty / "notes.txt").write_text("metadata")
    (one / "a.png").write_bytes(_encoded("PNG"))
    said = "No image to scan: the input held no file named or encoded like an image"
    status, _, _ = run(["scan", str(empty), "--out", str(tmp_path / "o1"), "--no-progress", "--workers", "0"], capsys)
    assert status == 0
    page = (tmp_path / "o1" / "report.html").read_text(encoding="utf-8")
    assert said in page and "Not scanned: metadata beside the images, 1 file (.txt 1)." in page
    status, _, _ = run(["scan", str(one), "--out", str(tmp_path / "o2"), "--no-progress", "--workers", "0"], capsys)
    assert status == 0
    assert said not in (tmp_path / "o2" / "report.html").read_text(encoding="utf-8")
