"""The report's duplicates section shows every group - exact, near by hash, near by embedding - each
with the method that found it, its score (Hamming distance of the near hashes, cosine similarity of
the embeddings: checked against plain-Python / float64 references) and its images, and agrees with
findings.json, results.csv and the command line's printout."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from dataeval_gpu.audit import AuditReport
from dataeval_gpu.cli_print import duplicate_lines
from dataeval_gpu.report import write_report
from dataeval_gpu.report.dup_groups import (
    cosine_nearest,
    embedding_rows,
    hamming_nearest,
    report_groups,
)

from .report_checks import by_id, group_blocks, mismatches, table_rows

N = 10
#: near hashes (hex, as AuditReport.hashes keeps them): 3 and 4 differ in 3 bits, 7 and 8 in 9 bits
#: (beyond radius 4: a pair matched through a crop), 5 and 7 in 1 bit
NEAR_HEX = ["0", "1", "ff", "f0f0", "f0f7", "234", "ffff0000", "1234", "", "abcdef"]
NEAR_HEX[8] = format(int("1234", 16) ^ 0b111111111, "x")  # 9 bits from image 7's hash
DUPS = {"exact": [[0, 9]], "near": [[3, 4], [5, 7, 8]], "embedding": [[1, 2, 6], [3, 4]]}


def _embeddings() -> np.ndarray:
    rng = np.random.default_rng(5)
    emb = rng.normal(size=(N, 8))
    emb[2] = emb[1] + 0.1 * rng.normal(size=8)  # 1 and 2 close; 6 closer to 2 than to 1
    emb[6] = emb[2] + 0.2 * rng.normal(size=8)
    emb[4] = 3.0 * emb[3] + 0.05 * rng.normal(size=8)  # a scaled copy: cosine ~1
    return emb.astype(np.float32)


def _report(tmp_path: Path | None = None, **kw) -> AuditReport:
    rng = np.random.default_rng(0)
    paths = {}
    if tmp_path is not None:
        from PIL import Image

        for i in range(N):
            p = tmp_path / "imgs" / f"img_{i}.png"
            p.parent.mkdir(exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (24 + i, 30, 3), dtype=np.uint8)).save(p)
            paths[i] = str(p)
    return AuditReport(
        index=np.arange(N),
        stats={"brightness": rng.uniform(0.2, 0.8, N), "width": np.full(N, 30)},
        hashes={"xxhash": [f"{i:016x}" for i in range(N)], "pchash_d4": NEAR_HEX},
        duplicates={k: [list(g) for g in v] for k, v in DUPS.items()},
        paths=paths,
        config={"near_radius": 4, "near_crops": [0.9, 0.8], "hash": "pchash", "d4": True, "quality": True},
        **kw,
    )


def _ref_hamming(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def _ref_cosine(u: np.ndarray, v: np.ndarray) -> float:
    u, v = u.astype(np.float64), v.astype(np.float64)
    return float(sum(x * y for x, y in zip(u, v)) / (np.sqrt(sum(x * x for x in u)) * np.sqrt(sum(y * y for y in v))))


def test_hamming_nearest_matches_bit_counts() -> None:
    hashes = {i: int(h, 16) for i, h in enumerate(NEAR_HEX) if h}
    assert hamming_nearest([7, 8], hashes) == {7: 9.0, 8: 9.0}
    del hashes[5]  # an image without a near hash (under 9 px a side): left out, not scored 0
    assert hamming_nearest([5, 7, 8], hashes) == {7: 9.0, 8: 9.0}
    assert hamming_nearest([3, 4], hashes) == {3: _ref_hamming("f0f0", "f0f7"), 4: 3.0}
    assert _ref_hamming("f0f0", "f0f7") == 3
    # three members: each one's distance to its closest other member
    trio = hamming_nearest([0, 1, 2], hashes)
    assert trio == {0: 1.0, 1: 1.0, 2: float(min(_ref_hamming("ff", "0"), _ref_hamming("ff", "1")))}
    assert trio[2] == 7
    # the full 64 bits (a hash with the top bit set)
    top = {0: 1 << 63, 1: (1 << 63) | 1, 2: 0}
    assert hamming_nearest([0, 1, 2], top) == {0: 1.0, 1: 1.0, 2: 1.0}


def test_cosine_nearest_matches_float64() -> None:
    emb = _embeddings()
    rows = embedding_rows(emb, _report())
    got = cosine_nearest([1, 2, 6], rows)
    for i in (1, 2, 6):
        want = max(_ref_cosine(emb[i], emb[j]) for j in (1, 2, 6) if j != i)
        assert got[i] == pytest.approx(want, abs=1e-12)
    assert got[1] == got[2] > got[6]  # 1 and 2 each other's closest; 6 closest to 2, farther
    assert cosine_nearest([3, 4], rows)[3] > 0.999
    # a non-finite row (an image with NaN pixels) is left out, not scored
    bad = dict(rows)
    bad[6] = np.full(8, np.nan, np.float32)
    assert set(cosine_nearest([1, 2, 6], bad)) == {1, 2}


def test_embedding_rows_forms() -> None:
    emb = _embeddings()
    rep = _report()
    a = embedding_rows(emb, rep)
    b = embedding_rows((np.arange(N), emb), rep)
    c = embedding_rows({i: emb[i] for i in range(N)}, rep, wanted=[1, 2])
    assert set(a) == set(b) == set(range(N)) and set(c) == {1, 2}
    assert all(np.array_equal(a[i], b[i]) for i in range(N))
    with pytest.raises(ValueError, match="expected 10 rows"):
        embedding_rows(emb[:4], rep)


def test_every_group_with_method_and_score(tmp_path: Path) -> None:
    rep = _report(tmp_path)
    emb = _embeddings()
    page = write_report(rep, tmp_path / "out", embeddings=emb).read_text()
    blocks = group_blocks(page)
    assert [(k, n, s) for k, n, s, _ in blocks] == [
        ("exact", 0, 2), ("near", 0, 2), ("near", 1, 3), ("embedding", 0, 3), ("embedding", 1, 2),
    ]  # fmt: skip
    text = {(k, n): t for k, n, _, t in blocks}
    assert "exact · group 0 · 2 images · identical pixels" in text["exact", 0]
    assert "near (hash) · group 0 · 2 images · Hamming distance 3" in text["near", 0]
    d58 = _ref_hamming(NEAR_HEX[5], NEAR_HEX[8])
    assert d58 > 9  # 8's closest is 7 (9 bits), 5's and 7's each other (1 bit)
    assert "near (hash) · group 1 · 3 images · Hamming distances 1–9" in text["near", 1]
    cos = cosine_nearest([1, 2, 6], embedding_rows(emb, rep))
    lo, hi = f"{min(cos.values()):.4f}", f"{max(cos.values()):.4f}"
    assert f"near (embedding) · group 0 · 3 images · cosine similarities {lo}–{hi}" in text["embedding", 0]
    # every group's files are named, each group has its strip of thumbnails
    assert "img_5.png" in text["near", 1] and "img_8.png" in text["near", 1]
    for kind, n, _, _ in blocks:
        assert (tmp_path / "out" / "plots" / f"dup_{kind}_{n}.jpg").is_file()
    # the groups table: one row per group, with how it was found and its score
    rows = table_rows(page, "table-duplicate-groups")
    head = rows[0]
    found, score = head.index("found by"), head.index("score")
    assert [r[found] for r in rows[1:]] == ["exact", "near (hash)", "near (hash)", "near (embedding)", "near (embedding)"]
    assert rows[2][score] == "Hamming distance 3" and rows[3][score] == "Hamming distances 1–9"
    assert rows[5][score] == f"cosine similarity {_ref_cosine(emb[3], emb[4]):.4f}"
    assert by_id(page, "count-embedding") == "2 (5 images)"
    assert by_id(page, "dup-count-near") == "2" and by_id(page, "dup-images-near") == "5"
    assert "one beyond 4 was matched through a central crop" in page


def test_counts_agree_with_findings_results_and_printout(tmp_path: Path) -> None:
    rep = _report(tmp_path)
    out = tmp_path / "out"
    rep.save(out)
    write_report(rep, out)
    assert mismatches(out) == []
    findings = json.loads((out / "findings.json").read_text())
    blocks = group_blocks((out / "report.html").read_text())
    printed = "\n".join(duplicate_lines(rep))
    for kind, title in (("exact", "exact"), ("near", "near"), ("embedding", "embedding near")):
        n = len(findings["duplicates"][kind])
        assert sum(k == kind for k, *_ in blocks) == n
        assert f"{title} duplicate groups ({n}):" in printed
    # results.csv's group numbers are the page's
    df = rep.to_pandas()
    for kind, n, _, _ in blocks:
        members = sorted(df.index[df[f"{kind}_duplicate_group"] == n])
        assert members == sorted(findings["duplicates"][kind][n])


def test_mismatch_is_found(tmp_path: Path) -> None:
    """The checker itself: a group the page leaves out is reported (it cannot pass everything)."""
    rep = _report(tmp_path)
    out = tmp_path / "out"
    rep.save(out)
    write_report(rep, out)
    page = (out / "report.html").read_text()
    cut = re.sub(r'<div class="dupgroup" id="dup-embedding-1".*?</div>', "", page, count=1, flags=re.S)
    (out / "report.html").write_text(cut)
    assert any(m.startswith("embedding groups shown") for m in mismatches(out))


def test_without_embeddings_no_cosine_and_without_images_no_strips(tmp_path: Path) -> None:
    rep = _report()  # paths that are not files: no image source
    page = write_report(rep, tmp_path).read_text()
    blocks = group_blocks(page)
    assert len(blocks) == 5
    assert "cosine" not in {t for k, _, _, t in blocks if k == "embedding"}.pop()
    assert "The report was not given the embeddings: no cosine similarity shown." in page
    assert "listed without their pictures (no image source was given)" in page
    assert not list((tmp_path / "plots").glob("dup_*"))


def test_groups_past_the_image_budget_are_listed_without_pictures(tmp_path: Path, monkeypatch) -> None:
    from dataeval_gpu.report import duplicates_section

    monkeypatch.setattr(duplicates_section, "MAX_STRIP_IMAGES", 5)  # exact 0, 9; near 3, 4; then 5, 7, 8: over
    rep = _report(tmp_path)
    page = write_report(rep, tmp_path / "out").read_text()
    drawn = sorted(p.stem for p in (tmp_path / "out" / "plots").glob("dup_*"))
    assert drawn == ["dup_exact_0", "dup_near_0"]
    assert len(group_blocks(page)) == 5  # every group still listed, with its files
    assert "2 of these groups are listed without their pictures (over 5 images shown)" in page


def test_each_group_image_is_fetched_once(tmp_path: Path) -> None:
    """Images in several groups (3 and 4: near and embedding) are decoded once for all strips."""
    rep = _report()
    rng = np.random.default_rng(2)
    imgs = [rng.integers(0, 256, (3, 20, 20), dtype=np.uint8) for _ in range(N)]
    calls: dict[int, int] = {}

    def get(i: int) -> np.ndarray:
        calls[i] = calls.get(i, 0) + 1
        return imgs[i]

    write_report(rep, tmp_path, images=get)
    assert set(calls) == {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
    assert max(calls.values()) == 1, calls


def test_report_groups_order_and_numbers() -> None:
    groups = report_groups(_report())
    assert [(g.kind, g.group, g.members) for g in groups] == [
        ("exact", 0, (0, 9)), ("near", 0, (3, 4)), ("near", 1, (5, 7, 8)),
        ("embedding", 0, (1, 2, 6)), ("embedding", 1, (3, 4)),
    ]  # fmt: skip
    assert [groups[2].member_text(i) for i in (5, 7, 8)] == ["d 1", "d 1", "d 9"]
    assert groups[0].score_text() == "identical pixels" and groups[3].score_text() == ""


def test_clusterer_duplicate_grid_shows_every_group(tmp_path: Path) -> None:
    """The Clusterer's duplicate groups were drawn 6 at most (``max_grid // 2``) under a caption
    counting all of them; now one row per group."""
    from PIL import Image

    rep = _report(tmp_path)
    groups = [[2 * k, 2 * k + 1] for k in range(5)] + [[0, 3], [1, 4], [2, 5]]
    rep.clusters = {"outliers": [], "potential_outliers": [], "duplicates": groups, "potential_duplicates": []}
    page = write_report(rep, tmp_path / "out", max_grid=6).read_text()
    assert "Clusterer duplicates: 8 group(s)." in page
    with Image.open(tmp_path / "out" / "plots" / "cluster_duplicates.jpg") as im:
        assert im.height == 55 + 8 * 280  # the title band and 8 rows of 2.8-inch cells


def test_strip_only_images_are_decoded_small_and_once(tmp_path: Path) -> None:
    """An image only a strip shows is fetched at the strip's size (a JPEG decodes faster smaller);
    one a full-size grid shows too is fetched once, at full size."""
    from dataeval_gpu.report.figures import FigureJobs
    from dataeval_gpu.report.images import ImageSource

    calls: list[tuple[int, int | None]] = []
    img = np.zeros((3, 400, 300), np.uint8)

    def full(i: int) -> np.ndarray:
        calls.append((i, None))
        return img

    def at(i: int, limit: int) -> np.ndarray:
        calls.append((i, limit))
        return img

    source = ImageSource(full, fetch_at=at, threads=1)
    figs = FigureJobs(tmp_path)
    figs.add("grid", lambda p: p.write_bytes(b""), "", indices=[1, 2])
    figs.add("strip", lambda p: p.write_bytes(b""), "", indices=[2, 3], thumb=160)
    figs.render(source, threads=1)
    assert sorted(calls, key=lambda c: c[0]) == [(1, None), (2, None), (3, 160)]
    assert max(source(3).shape[1:]) == 160 and max(source(2).shape[1:]) == 256


def test_uint8_cells_keep_their_values(tmp_path: Path) -> None:
    """Grey and RGB uint8 pictures go into a grid cell as they are (no float round trip): a
    picture of the cell's exact box size is pasted with every value unchanged."""
    from PIL import Image

    from dataeval_gpu.report.grids import GridSpec
    from dataeval_gpu.report.pilgrid import render_grid

    box_w, box_h = 170 - 12, 200 - 52 - 6  # a 1.7 x 2.0 inch cell less padding and title
    rng = np.random.default_rng(1)
    for c in (1, 3):
        pic = rng.integers(0, 256, (c, box_h, box_w), dtype=np.uint8)
        pic.reshape(-1)[:256] = np.arange(256, dtype=np.uint8)
        out = render_grid(GridSpec([[(0, "")]], "", (1.7, 2.0)), lambda i, pic=pic: pic, tmp_path / f"c{c}.png")
        with Image.open(out) as im:
            arr = np.asarray(im.convert("RGB"))
        top = 6 + 52  # the strip's band (no title) and the cell's title
        got = arr[top : top + box_h, 6 : 6 + box_w]
        want = np.repeat(pic[0][..., None], 3, -1) if c == 1 else pic.transpose(1, 2, 0)
        assert np.array_equal(got, want)
