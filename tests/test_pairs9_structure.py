"""scripts/pair_structure.py (a measuring tool, pairs9): the tolerant edge agreement that the write-up
(docs/duplicates.md, "fifth pass") reports, on hand-checked edge maps and pictures."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
from PIL import Image

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "pair_structure.py"
_spec = importlib.util.spec_from_file_location("pair_structure", SCRIPT)
ps = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ps)  # type: ignore[union-attr]


def _lines(side: int, columns: list[int]) -> np.ndarray:
    e = np.zeros((side, side), dtype=bool)
    e[:, columns] = True
    return e


def test_agreement_tolerates_a_shift_within_r_only():
    a = _lines(16, [5])
    assert ps.agreement(a, a, 1) == (1.0, 1.0)
    assert ps.agreement(a, _lines(16, [6]), 1) == (1.0, 1.0)  # 1 px away: within r = 1
    whole, worst = ps.agreement(a, _lines(16, [7]), 1)  # 2 px away: none within r = 1
    assert (whole, worst) == (0.0, 0.0)
    assert ps.agreement(a, _lines(16, [7]), 2)[0] == 1.0


def test_agreement_is_the_smaller_share_and_the_worst_cell():
    # b has a's line and a second one in another column of cells: every a edge is matched (16 of
    # 16), 16 of b's 32 edges are: whole = 0.5; the cells holding only b's line score 0
    a, b = _lines(16, [1]), _lines(16, [1, 13])
    assert ps.agreement(a, b, 1) == (0.5, 0.0)
    assert ps.agreement(b, a, 1) == (0.5, 0.0)


def test_best_agreement_finds_a_mirrored_copy():
    rng = np.random.default_rng(0)
    g = np.kron(rng.integers(0, 255, (4, 4)), np.ones((8, 8))).astype(np.float64)  # 32 x 32, 8 px blocks
    assert ps.best_agreement(g, g[:, ::-1], 1) == (1.0, 1.0)
    assert ps.best_agreement(g, np.rot90(g), 1) == (1.0, 1.0)
    # the blocks moved 4 px along the rows: the column edges (2 px wide, Sobel) lie 2 px beyond r = 1
    # from any edge of the other, the row edges stay in place: about half the edges agree
    whole, worst = ps.best_agreement(g, np.roll(g, 4, axis=1), 1)
    assert 0.5 < whole < 0.7 and worst < whole
    assert ps.best_agreement(g, np.roll(g, 1, axis=1), 1)[0] > whole + 0.2  # 1 px: mostly within r


def test_figures_of_a_recolour_and_of_another_drawing(tmp_path):
    # a ring drawn on transparent, the same ring recoloured, and a ring with a bar across it
    yy, xx = np.mgrid[:96, :96]
    ring = np.abs(np.hypot(yy - 48, xx - 48) - 30) < 3
    bar = ring | ((np.abs(yy - 48) < 3) & (np.abs(xx - 48) < 30))

    def save(name: str, mask: np.ndarray, rgb: tuple[int, int, int]) -> str:
        a = np.zeros((96, 96, 4), dtype=np.uint8)
        a[mask] = (*rgb, 255)
        Image.fromarray(a, "RGBA").save(tmp_path / name)
        return str(tmp_path / name)

    pairs = [
        {
            "pa": save("a.png", ring, (0, 0, 0)),
            "pb": save("b.png", ring, (200, 30, 30)),
            "true": True,
            "col": "t",
        },
        {"pa": str(tmp_path / "a.png"), "pb": save("c.png", bar, (0, 0, 0)), "true": False, "col": "t"},
    ]
    src = tmp_path / "pairs.json"
    src.write_text(json.dumps(pairs))
    out = tmp_path / "fig.json"
    assert ps.main([str(src), "--json", str(out)]) == 0
    recolour, other = json.loads(out.read_text())
    assert recolour["tol64"] == 1.0 and recolour["tol128"] == 1.0 and recolour["sil_iou"] == 1.0
    assert recolour["ratio"] == 1.0 and recolour["aspect"] == 1.0 and recolour["ncomp"] == [1, 1]
    # the bar's edges have no partner in the ring: 0.82 of the edges agree, the worst cell 0.44
    assert other["tol64"] < 0.9 and other["worst64"] < 0.6
    assert 0 < recolour["opacity"][0] < 1


def test_the_script_leaves_the_decompression_bomb_limit_alone(tmp_path):
    # the exploratory version set Image.MAX_IMAGE_PIXELS = None on import: the scan's bomb guard
    # (io.py reads Pillow's limit) was off for every later test in the process, and a 60000 x 60000
    # PNG was decoded - a segfault in the decoder
    assert Image.MAX_IMAGE_PIXELS is not None
    a = np.zeros((40, 40, 4), dtype=np.uint8)
    a[10:30, 10:30] = 255
    Image.fromarray(a, "RGBA").save(tmp_path / "a.png")
    src = tmp_path / "pairs.json"
    src.write_text(json.dumps([{"pa": str(tmp_path / "a.png"), "pb": str(tmp_path / "a.png")}]))
    assert ps.main([str(src), "--json", str(tmp_path / "f.json")]) == 0
    assert Image.MAX_IMAGE_PIXELS is not None
    (row,) = json.loads((tmp_path / "f.json").read_text())
    assert row["tol32"] == 1.0 and row["tol64"] == 1.0 and row["worst128"] == 1.0
