"""review16: defects found reviewing newuser6's c_stderr / workers, decode9's png_key (each test fails before its fix)."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import struct
import subprocess
import sys
import threading
import time
import zlib
from functools import partial
from pathlib import Path

import pytest

from dataeval_gpu.c_stderr import CStderr
from dataeval_gpu.io import decode_bytes_noted
from dataeval_gpu.png_key import png_key

_libc = ctypes.CDLL(None)


def _c_write(text: str) -> None:
    data = text.encode()
    _libc.write(2, data, len(data))


def test_c_stderr_does_not_attribute_another_threads_lines(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """fd 2 is one per process: a decoder line printed by a second thread while the first captures
    went into the first's note (the second thread's image lost its line, the first got a wrong one)."""
    capturing, written = threading.Event(), threading.Event()
    caps: dict[str, CStderr] = {}

    def first() -> None:
        with CStderr() as cap:
            caps["first"] = cap
            capturing.set()
            written.wait(10)
            _c_write("libpng warning: first image\n")

    def second() -> None:
        capturing.wait(10)
        with CStderr() as cap:
            caps["second"] = cap
            _c_write("libpng warning: second image\n")
        written.set()

    caplog.set_level(logging.DEBUG, logger="dataeval_gpu.c_stderr")
    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    err = capfd.readouterr().err
    assert "libpng warning: second image" not in caps["first"].lines
    # neither can be attributed for sure: no note, not printed (decode_bytes stays quiet), logged at DEBUG
    assert caps["first"].lines == [] and caps["second"].lines == []
    assert "libpng" not in err
    assert "libpng warning: second image; libpng warning: first image" in caplog.text
    # the next capture, alone, attributes its lines again
    with CStderr() as cap:
        _c_write("libpng warning: alone\n")
    assert cap.lines == ["libpng warning: alone"]


def _chunk(kind: bytes, body: bytes, bad_crc: bool = False) -> bytes:
    crc = zlib.crc32(kind + body) ^ (1 if bad_crc else 0)
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def _grey_png(trns: bytes, bad_crc: bool = False) -> bytes:
    """A 2 x 2 8-bit grey PNG (0, 7 / 7, 200) with the tRNS chunk ``trns`` before its IDAT."""
    rows = b"\x00\x00\x07" + b"\x00\x07\xc8"
    ihdr = struct.pack(">IIBBBBB", 2, 2, 8, 0, 0, 0, 0)
    chunks = [_chunk(b"IHDR", ihdr), _chunk(b"tRNS", trns, bad_crc), _chunk(b"IDAT", zlib.compress(rows)), _chunk(b"IEND", b"")]
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks)


@pytest.mark.parametrize(
    ("trns", "bad_crc", "warning"),
    [(struct.pack(">H", 7), True, "libpng warning: tRNS: CRC error"), (struct.pack(">HH", 7, 0), False, "libpng warning: tRNS: invalid")],
)
def test_a_trns_chunk_libpng_discards_gives_no_alpha(trns: bytes, bad_crc: bool, warning: str) -> None:
    """libpng drops a tRNS chunk with a CRC error or of the wrong length (its warning says so) and the
    image is opaque; png_key read the value anyway and appended an alpha channel (key 7: 2 pixels
    transparent) beside the warning that it had been ignored."""
    data = _grey_png(trns, bad_crc)
    assert png_key(data) is None
    img, note = decode_bytes_noted(data)
    assert note == warning
    assert tuple(img.shape) == (1, 2, 2)
    assert img[0].tolist() == [[0, 7], [7, 200]]
    # the well-formed chunk still gives the alpha (0 where the value is 7)
    img, note = decode_bytes_noted(_grey_png(struct.pack(">H", 7)))
    assert note == "" and tuple(img.shape) == (2, 2, 2)
    assert img[1].tolist() == [[255, 0], [0, 255]]


def _tens_or_die(log: str, x: int) -> int:
    """x * 10, noted in ``log``; item 2 kills its worker (as the out-of-memory killer would)."""
    if x == 2:
        time.sleep(0.3)
        os.kill(os.getpid(), signal.SIGKILL)
    with open(log, "a") as f:
        f.write(f"{x}\n")
    return x * 10


def test_run_in_workers_pool_broken_while_the_caller_holds_a_result(tmp_path: Path) -> None:
    """A worker died while the caller was busy with a result (the scan feeding rows); the next
    finished result was taken, then handing out the next item raised BrokenProcessPool: the scan
    ended with an internal error although ``on_lost`` was given.  Items the pool had finished are
    not run again; nothing lost, nothing twice, in order."""
    from dataeval_gpu.audit.workers import can_fork, run_in_workers

    if not can_fork():
        pytest.skip("no fork here")
    log = tmp_path / "runs.txt"
    it = run_in_workers(partial(_tens_or_die, str(log)), list(range(8)), workers=2, ahead=4, on_lost=lambda x, _reason: ("lost", x))
    got = [next(it)]
    time.sleep(1.5)  # the caller busy: items 1, 3, 4 finish, item 2 kills its worker meanwhile
    got += list(it)
    assert got == [0, 10, ("lost", 2), 30, 40, 50, 60, 70]
    runs = sorted(int(v) for v in log.read_text().split())
    assert runs == [0, 1, 3, 4, 5, 6, 7]  # each finished item measured once


def test_an_empty_index_folder_is_not_an_empty_class(tmp_path: Path) -> None:
    """``scan DATA --index DATA/idx`` with idx made (empty) before the scan: the walk left the
    folder out, but the class tree listed it as a class with 0 images (labels 'a', 'b', 'idx')."""
    from PIL import Image

    from dataeval_gpu.discovery import find_inputs

    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        Image.new("RGB", (4, 4), (10, 20, 30)).save(tmp_path / name / "x.png")
    (tmp_path / "idx").mkdir()
    found = find_inputs(tmp_path, exclude=[tmp_path / "idx"])
    assert found.class_names == ["a", "b"]
    assert found.labels == [0, 1]
    # without exclude an empty folder is still an empty class (unchanged)
    assert find_inputs(tmp_path).class_names == ["a", "b", "idx"]


def test_c_stderr_with_fd_2_closed_leaves_it_closed() -> None:
    """With fd 2 closed the sink file took descriptor 2: from then every write to stderr went into
    that hidden file, and each capture read back and rewrote all of it (non-decoder lines) again."""
    code = (
        "import ctypes, os\n"
        "os.close(2)\n"
        "from dataeval_gpu.c_stderr import CStderr\n"
        "libc = ctypes.CDLL(None)\n"
        "for k in range(3):\n"
        "    with CStderr() as cap:\n"
        "        libc.write(2, b'progress\\n', 9)\n"
        "    assert cap.lines == [], cap.lines\n"
        "try:\n"
        "    os.fstat(2)\n"
        "    print('fd 2 open')\n"
        "except OSError:\n"
        "    print('fd 2 closed')\n"
    )
    got = _run_code(code)
    assert got.stdout.strip() == "fd 2 closed"


def test_key_alpha_values_and_memory() -> None:
    """key_alpha compared a whole-image int32 copy (4 bytes per sample) and built the alpha in int64
    (8 bytes per pixel): peak RSS +170 MB for a 16-Mpx RGB image (now +34; a 169-Mpx drawing: GBs).
    Same values (numpy reference), a key out of the samples' range matches nothing."""
    import numpy as np
    import torch

    from dataeval_gpu.png_key import key_alpha

    rng = np.random.default_rng(3)
    for dtype, key in ((np.uint8, (7, 9, 11)), (np.uint16, (700, 9, 65535)), (np.uint8, (7,))):
        img = rng.integers(0, 3, (len(key), 5, 6)).astype(dtype) * np.array(key, dtype=np.int64)[:, None, None].astype(dtype) // 2
        img[:, 1, 2] = key
        want = np.where((img == np.array(key)[:, None, None]).all(axis=0), 0, np.iinfo(dtype).max).astype(dtype)
        got = key_alpha(torch.from_numpy(img), key).numpy()
        assert got.dtype == dtype and np.array_equal(got[:-1], img) and np.array_equal(got[-1], want)
    grey = torch.zeros((1, 2, 2), dtype=torch.uint8)
    assert key_alpha(grey, (300,))[1].tolist() == [[255, 255], [255, 255]]  # an 8-bit image: 300 is no sample

    code = (
        "import resource, torch\n"
        "from dataeval_gpu.png_key import key_alpha\n"
        "img = torch.zeros((3, 4000, 4000), dtype=torch.uint8)\n"
        "img.fill_(7)\n"
        "out = torch.empty((4, 4000, 4000), dtype=torch.uint8); out.fill_(1); del out\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "alpha = key_alpha(img, (7, 7, 7))\n"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)\n"
    )
    got = _run_code(code)
    assert int(got.stdout.strip()) < 120  # MB of peak beyond the result (measured: 34 after, 170 before)


def _run_code(code: str) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter with this checkout importable; its output (fails on an error)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, check=True)
