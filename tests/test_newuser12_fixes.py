"""newuser12's fixes from a new user's pass on never-seen Debian packages (2026-12-08).

enigma-data's ``ic-easymode.png``, ``ic-normalmode.png`` and ``ic-feather.png`` (old GIMP PNGs whose
zlib header declares a 1 KB window while the data reaches further back) crashed torchvision's PNG
decoder with a segmentation fault: in a scan their worker died and they failed as "out of memory?",
with ``--workers 0`` the whole scan ended with exit status 139 and nothing written.  The PNGs here are
written chunk by chunk (an independent encoder: zlib and struct), the pixels compared with numpy.
"""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.cli_run import run


def _chunk(kind: bytes, body: bytes, crc: int | None = None) -> bytes:
    crc = zlib.crc32(kind + body) if crc is None else crc
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def _pixels(seed: int = 3) -> np.ndarray:
    """40 x 64 RGBA (256-byte rows): two random rows repeated, so deflate reaches 4 rows (1 KB) back."""
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, 256, (4, 64, 4), dtype=np.uint8)
    return np.concatenate([rows] * 10)


def _png(pix: np.ndarray, header_window_bits: int | None = None, wbits: int = 15, idat_crc: int | None = None) -> bytes:
    """An 8-bit RGBA PNG of ``pix`` (H, W, 4), its data compressed with a ``wbits`` window; with
    ``header_window_bits`` the zlib header then claims that smaller window (as old GIMP wrote)."""
    h, w, _ = pix.shape
    raw = b"".join(b"\0" + pix[y].tobytes() for y in range(h))  # filter 0 on every row
    comp = zlib.compressobj(9, zlib.DEFLATED, wbits)
    data = bytearray(comp.compress(raw) + comp.flush())
    if header_window_bits is not None:
        data[0] = ((header_window_bits - 8) << 4) | 8
        data[1] = (data[1] & 0xE0) + (31 - ((data[0] << 8) | (data[1] & 0xE0)) % 31) % 31  # FCHECK
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", bytes(data), idat_crc) + _chunk(b"IEND", b"")
    )


def test_the_window_short_of_its_data_is_found() -> None:
    from dataeval_gpu.png_idat import idat_fault

    pix = _pixels()
    short = _png(pix, header_window_bits=10)
    assert zlib.decompress(short[short.index(b"IDAT") + 4 :][: -12 - 4])  # Python's zlib inflates it whole
    assert idat_fault(short) == "IDAT: invalid distance too far back"
    assert idat_fault(_png(pix)) == ""  # the 32 KB window it was written with
    assert idat_fault(_png(pix, wbits=10)) == ""  # a small window the data keeps to
    assert idat_fault(_png(pix[:2], header_window_bits=10)) == ""  # 514 bytes of data: all inside 1 KB
    assert idat_fault(_png(pix, idat_crc=7)) == "IDAT: CRC error"
    assert idat_fault(b"\x89PNG\r\n\x1a\n") == ""  # no chunks: the decoder's own error


def test_a_png_libpng_rejects_is_read_by_pillow_with_a_note() -> None:
    from dataeval_gpu.io import decode_bytes_noted

    pix = _pixels()
    for data, note in [
        (_png(pix, header_window_bits=10), "libpng error: IDAT: invalid distance too far back (read by Pillow)"),
        (_png(pix, idat_crc=7), "libpng error: IDAT: CRC error (read by Pillow)"),
        (_png(pix, wbits=10), ""),  # sound: torchvision's path
    ]:
        img, got = decode_bytes_noted(data)
        assert got == note
        assert np.array_equal(img.permute(1, 2, 0).numpy(), pix)


def test_a_damaged_png_pillow_cannot_read_either_names_both() -> None:
    from dataeval_gpu.io import decode_bytes

    data = bytearray(_png(_pixels(), idat_crc=7))
    at = data.index(b"IDAT") + 4
    data[at + 2 : at + 40] = bytes(38)  # the deflate data itself broken (and its CRC wrong)
    with pytest.raises(Exception, match=r"^damaged PNG file: IDAT: CRC error \(Pillow: "):
        decode_bytes(bytes(data))


def test_decoding_it_does_not_crash_the_process(tmp_path: Path) -> None:
    """The crash itself, in a fresh process (it ended with SIGSEGV, exit status -11)."""
    path = tmp_path / "ic-easymode.png"
    path.write_bytes(_png(_pixels(), header_window_bits=10))
    code = "import sys; from dataeval_gpu.io import decode_file; print(tuple(decode_file(sys.argv[1]).shape))"
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(4, 40, 64)"


@pytest.mark.parametrize("workers", ["0", "1"])
def test_the_scan_measures_it(tmp_path: Path, capsys: pytest.CaptureFixture[str], workers: str) -> None:
    d = tmp_path / "gfx"
    d.mkdir()
    (d / "ic-easymode.png").write_bytes(_png(_pixels(), header_window_bits=10))
    (d / "ic-top.png").write_bytes(_png(_pixels(5)))
    out = tmp_path / "out"
    args = ["scan", str(d), "--out", str(out), "--no-plots", "--no-progress", "--workers", workers]
    status, printed, err = run(args, capsys)
    assert status == 0, err
    df = pd.read_csv(out / "results.csv", keep_default_na=False)
    assert list(df["status"]) == ["ok", "ok"]
    assert list(df["width"]) == [64, 64] and list(df["height"]) == [40, 40]
    assert df["decoder_note"][0] == "libpng error: IDAT: invalid distance too far back (read by Pillow)"
    assert df["decoder_note"][1] == ""


def _square_or_crash(x: int) -> int:
    if x == 2:
        import faulthandler

        faulthandler.disable()  # pytest's would print the worker's stack
        os.kill(os.getpid(), signal.SIGSEGV)  # as torchvision's decoder did
    return x * x


def test_a_crashed_worker_is_not_called_out_of_memory() -> None:
    from dataeval_gpu.audit.workers import LOST_REASON, can_fork, lost_reason, run_in_workers

    if not can_fork():
        pytest.skip("no fork here")
    got = list(run_in_workers(_square_or_crash, [0, 1, 2, 3], workers=2, ahead=2, on_lost=lambda x, why: why))
    assert got[:2] == [0, 1] and got[3] == 9
    assert got[2] == lost_reason(-signal.SIGSEGV) != LOST_REASON
    assert got[2].startswith("RuntimeError: the worker process measuring this file crashed (SIGSEGV")
    assert "out of memory" not in got[2]
    assert lost_reason(-signal.SIGKILL) == LOST_REASON and "out of memory" in LOST_REASON
    assert lost_reason(-250).startswith("RuntimeError: the worker process measuring this file crashed (signal 250")


def test_a_text_file_named_like_an_image_says_not_an_image(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """tuxpaint-data's input-method maps (``th.im``: ``.im`` is also Pillow's IM format) failed as
    "unsupported format: a text file (starts with '########################')": it read as a format
    not supported, and the preview named nothing.  Now: not an image, and its first words."""
    from PIL import Image

    d = tmp_path / "im"
    d.mkdir()
    (d / "th.im").write_bytes(b"#" * 41 + b"\n# September 08, 2007\n# Thai input\nsection\n\n0E01 d\t-\n")
    (d / "zh_tw.im").write_bytes("section\n\n311d\t,1\t-\t# \u3105\n".encode())
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)).save(d / "real.im")  # Pillow's IM format
    out = tmp_path / "out"
    status, printed, err = run(["scan", str(d), "--out", str(out), "--no-plots", "--no-progress", "--workers", "0"], capsys)
    assert status == 0, err
    df = pd.read_csv(out / "results.csv", keep_default_na=False).set_index("path")
    assert df.loc[str(d / "real.im"), "status"] == "ok" and df.loc[str(d / "real.im"), "width"] == "8"
    assert df.loc[str(d / "th.im"), "error"] == "ValueError: not an image: a text file (its first words: '# September 08, 2007')"
    assert df.loc[str(d / "zh_tw.im"), "error"] == "ValueError: not an image: a text file (its first words: 'section')"
    assert "th.im: ValueError: not an image: a text file (its first words: '# September 08, 2007')" in printed


def test_a_damaged_im_header_is_not_called_a_text_file() -> None:
    from dataeval_gpu.file_kinds import text_words, unknown_format

    assert unknown_format(b"Image type: L image\r\nName: x\r\n") == (
        "damaged IM image: its text header ('Image type: L image') is not one Pillow reads"
    )
    assert text_words("\u00e9t\u00e9 \u3105".encode()[:-1]) == "\u00e9t\u00e9"  # the cut character dropped
    assert text_words(b"") == ""


def test_the_report_summary_says_which_images_the_decoder_warned_about(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The printout's "decoder warnings: ..." line was only in the report's Settings table (as
    ``decoder_warnings``): enigma-data's three PNGs read by Pillow, kstars-data's 127 libpng warnings."""
    import html
    import re

    d = tmp_path / "gfx"
    d.mkdir()
    (d / "ic-easymode.png").write_bytes(_png(_pixels(), header_window_bits=10))
    (d / "ic-top.png").write_bytes(_png(_pixels(5)))
    out = tmp_path / "out"
    status, printed, err = run(["scan", str(d), "--out", str(out), "--no-progress", "--workers", "0"], capsys)
    assert status == 0, err
    page = (out / "report.html").read_text(encoding="utf-8")
    start = page.index('id="summary"')
    summary = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page[start : page.index('id="statistics"', start)])).split())
    said = (
        "Decoder warnings: 1 image (1 × libpng error: IDAT: invalid distance too far back (read by Pillow)); "
        "the images were read, each one's warnings in results.csv's decoder_note."
    )
    assert said in summary
    assert said[len("Decoder warnings: ") : -1].split(";")[0] in printed


def _guide():
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "scripts" / "data_cleaning_guide.py"
    spec = importlib.util.spec_from_file_location("data_cleaning_guide_nu12", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--subset", "-3"], "argument --subset: expected a whole number >= 1, got -3"),  # took 15 of 18 photos
        (["--subset", "0"], "argument --subset: expected a whole number >= 1, got 0"),  # took all
        (["--cluster-subset", "-1"], "argument --cluster-subset: expected a whole number >= 0, got -1"),
        (["--batch-size", "0"], "argument --batch-size: expected a whole number >= 1, got 0"),
    ],
)
def test_the_guide_refuses_counts_below_one(
    args: list[str], said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        _guide().main([*args, "--out", str(tmp_path / "g")])
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip().endswith(said)
    assert not (tmp_path / "g").exists()


def test_the_guide_refuses_a_data_folder_without_fashion_mnist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--data FOLDER`` named explicitly but holding no Fashion-MNIST ran the guide on the 18 bundled
    photos after one line among the step output; now a usage error (the default folder still falls back)."""
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "train-images-idx3-ubyte.gz").write_bytes(b"")
    with pytest.raises(SystemExit) as stop:
        _guide().main(["--data", str(tmp_path / "imgs"), "--out", str(tmp_path / "g")])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.split(": ", 1)[1] == (
        f"error: --data {tmp_path / 'imgs'}: no Fashion-MNIST there (3 of its 4 files "
        "missing: train-labels-idx1-ubyte.gz, ...); run scripts/fetch_fashion_mnist.sh, or leave --data out / "
        "give --fallback-photos for the bundled photos"
    )
    assert not (tmp_path / "g").exists()
