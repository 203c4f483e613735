"""newuser4's fixes from a fresh-eyes pass over held-out data (2026-12-07)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dataeval_gpu.discovery import find_inputs


def test_missing_reason_names_one_place_when_list_folder_is_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A list run from its own folder: the reason named the same path twice ("looked for in the
    current directory (/d/x.png) and in the file list's folder (/d/x.png)")."""
    from PIL import Image

    Image.fromarray(np.full((12, 12), 7, np.uint8)).save(tmp_path / "here.png")
    lst = tmp_path / "files.txt"
    lst.write_text("here.png\ngone.png\n")
    monkeypatch.chdir(tmp_path)
    found = find_inputs(lst)
    assert found.files == ["here.png", "gone.png"]
    assert found.not_found == {
        "gone.png": "no such file: a relative path, looked for in the current directory, which is "
        f"the file list's folder ({tmp_path / 'gone.png'})"
    }
    # given by a relative name from its own folder: the same single place
    assert find_inputs(Path("files.txt")).not_found == found.not_found


def test_failed_tally_names_each_unsupported_format() -> None:
    """The tally after the first failed lines lumped every unsupported format together
    ("ValueError: unsupported format 248" for a folder of SVG stamps beside numpy files): it
    names the format now, and other reasons keep their first two parts."""
    from types import SimpleNamespace

    from dataeval_gpu.cli_print import failed_lines

    svg = "ValueError: unsupported format: SVG (a vector drawing, not a raster image)"
    npy = (
        "ValueError: unsupported format: a numpy array file (.npy), not an image: scan arrays from "
        "Python, dataeval_gpu.audit.scan(list(np.load(path)))"
    )
    gz = "ValueError: unsupported format: gzip-compressed data (such as an .svgz drawing or a .gz file), not an image"
    link = "FileNotFoundError: broken symbolic link (its target /x/y.png is missing)"
    bomb = "ValueError: image too large (decompression-bomb guard): Image size (3600000000 pixels) exceeds limit"
    reasons = [svg] * 6 + [npy] * 3 + [gz] * 2 + [link] * 2 + [bomb]
    report = SimpleNamespace(failed=dict(enumerate(reasons)), paths={i: f"f{i}" for i in range(len(reasons))})
    lines = failed_lines(report, most=2)
    assert lines[-1] == (
        "  by reason: 6 × ValueError: unsupported format: SVG, 3 × ValueError: unsupported format: a numpy array file, "
        "2 × FileNotFoundError: broken symbolic link, 2 × ValueError: unsupported format: gzip-compressed data, "
        "1 × ValueError: image too large"
    )


def test_slow_checkpoints_are_spaced_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every checkpoint re-writes every row so far: saving every N batches made the saves'
    total grow with the square of the inputs (20,000 8 x 8 PNGs: most of the scan).  A save that
    took longer than SAVE_SLOW_S puts the next off until SAVE_GAP_FACTOR times its cost has
    passed; fast saves keep the every-N-batches rhythm."""
    import time

    import dataeval_gpu.audit.feed as feed_mod
    from dataeval_gpu.audit import DataAudit
    from dataeval_gpu.audit.feed import FeedLoop

    clock = [0.0]
    monkeypatch.setattr(time, "perf_counter", lambda: clock[0])
    saved_at: list[int] = []
    real_save = feed_mod.torch.save
    cost = [0.01]

    def slow_save(obj: object, f: object) -> None:
        real_save(obj, f)
        saved_at.append(obj["position"])  # type: ignore[index]
        clock[0] += cost[0]  # the save's wall time

    monkeypatch.setattr(feed_mod.torch, "save", slow_save)
    loop = FeedLoop(DataAudit(hashes=False), checkpoint=tmp_path / "ck.pt", checkpoint_every=2)
    img = np.zeros((1, 8, 8), np.uint8)
    for b in range(8):  # fast saves (10 ms): every 2 batches, 0.1 s of feeding a batch
        loop.feed([img], [b])
        clock[0] += 0.1
    assert saved_at == [2, 4, 6, 8]
    cost[0] = 1.0  # slow saves: the next one waits 9 s after the end of the last
    for b in range(8, 60):
        loop.feed([img], [b])
        clock[0] += 0.5
    # 10 (1 s), then due at 12, 14, 16, ... but put off until 9 s after 10's save ended, 18
    # batches of 0.5 s later: 28, then 46 (without the rule: 10, 12, 14, ..., 58)
    assert saved_at == [2, 4, 6, 8, 10, 28, 46]
    assert (tmp_path / "ck.pt").is_file()
