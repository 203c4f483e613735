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
