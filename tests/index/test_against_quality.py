"""``--against``: the relative quality issues (dark, odd size, ...) of new images are judged
against the indexed collection, not against the new images' own medians.  Before, six photos
darkened to 12 % scanned against an index of 80 normal photos had no ``dark`` flag (their own
median was as dark as they were), and four 40 x 30 thumbnails none of ``odd_size``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import PIL.Image as PIL

from dataeval_gpu.audit import scan_files
from dataeval_gpu.index import DatasetIndex, against_report, scan_against, update_index
from dataeval_gpu.index.quality_ref import OCTAVE_BINS, octave_counts, quality_reference
from dataeval_gpu.io import discover

from .blobs import picture

KW = {"workers": 0, "progress": False}


def _collections(root: Path) -> tuple[Path, Path]:
    indexed, new = root / "indexed", root / "new"
    indexed.mkdir()
    new.mkdir()
    for s in range(30):
        PIL.fromarray(picture(s, 96)).save(indexed / f"img{s:02d}.png")
    for s in range(4):  # darkened copies of unseen pictures: dark against the index
        PIL.fromarray(picture(100 + s, 96, gain=0.1)).save(new / f"dark{s}.png")
    for s in range(3):  # thumbnails: 10 px sides against 96 px, log2(9.6) = 3.26 octaves
        PIL.fromarray(picture(200 + s, 10)).save(new / f"tiny{s}.png")
    return indexed, new


def test_new_images_are_judged_against_the_indexed_collection(tmp_path: Path) -> None:
    indexed, new = _collections(tmp_path)
    files, labels, _ = discover(indexed)
    built = update_index(tmp_path / "idx", files, labels, **KW)
    files, labels, _ = discover(new)
    report = scan_against(tmp_path / "idx", files, labels, **KW)
    name = {i: Path(p).name for i, p in report.paths.items()}

    # the scan's own findings: the new images are alike among themselves, so none is dark and the
    # three thumbnails are not rare in a set of seven (what --against reported before)
    own = {name[i] for i, f in enumerate(report.quality["flags"]["dark"]) if f}
    assert own == set()
    assert not report.quality["flags"]["odd_size"].any()

    # against the index: the indexed collection's median highlights and sizes
    quality = report.against["quality"]
    got = {name[i]: q["issues"] for i, q in quality.items()}
    assert got == {**{f"dark{s}.png": ["dark"] for s in range(4)}, **{f"tiny{s}.png": ["odd_size"] for s in range(3)}}
    ref = DatasetIndex(tmp_path / "idx").quality_reference
    p99 = np.asarray(built.stats["grey_p99"], dtype=np.float64)
    assert ref["grey_p99"] == np.median(p99) and ref["side"] == 96.0 and ref["images"] == 30
    assert ref["side_octaves"] == {"bins": [int(np.floor(np.log2(96) * OCTAVE_BINS))], "counts": [30]}
    dark0 = next(i for i in quality if name[i] == "dark0.png")
    mine = float(report.stats["grey_p99"][list(report.index).index(dark0)])
    assert f"grey p99 {mine:.3f} vs indexed collection's median {np.median(p99):.3f}" in quality[dark0]["why"][0]

    # in the results table and the summary
    table = report.to_pandas()
    assert {name[i]: v for i, v in table["index_quality_issues"].items() if v} == {
        k: ",".join(v) for k, v in got.items()
    }
    assert report.summary_dict()["against_quality_flagged_images"] == 7
    # from a finished report alone (against_report): the same judgement
    again = against_report(scan_files(files, labels, **KW), tmp_path / "idx")
    assert again.against["quality"] == quality


def test_an_index_without_the_stored_figures_reads_them_from_its_rows(tmp_path: Path) -> None:
    """An index written before the manifest kept the quality reference: the same figures from
    the rows file."""
    indexed, _ = _collections(tmp_path)
    files, labels, _ = discover(indexed)
    update_index(tmp_path / "idx", files, labels, **KW)
    stored = DatasetIndex(tmp_path / "idx").quality_reference
    manifest = tmp_path / "idx" / "manifest.json"
    doc = json.loads(manifest.read_text())
    del doc["quality"]
    manifest.write_text(json.dumps(doc))
    assert DatasetIndex(tmp_path / "idx").quality_reference == stored


def test_octave_counts_match_a_direct_count() -> None:
    """Counts within one octave from the histogram equal the direct count but for the values
    within one bin (1/128 octave) of the window's ends."""
    rng = np.random.default_rng(3)
    values = np.exp(rng.normal(6.0, 1.0, 2000))
    stats = {
        "grey_p99": np.ones(2000),
        "width": values,
        "height": np.ones(2000),
        "channels": np.full(2000, 3.0),
        "channel_spread": np.ones(2000),
    }
    ref = quality_reference(stats)
    assert sum(ref["side_octaves"]["counts"]) == 2000
    queries = np.exp(rng.normal(6.0, 1.5, 300))
    got = octave_counts(ref["aspect_octaves"], queries)
    lv, lq = np.log2(values), np.log2(queries)[:, None]
    direct = (np.abs(lv[None, :] - lq) <= 1.0).sum(1)
    near_edge = (np.abs(np.abs(lv[None, :] - lq) - 1.0) <= 1.0 / OCTAVE_BINS).sum(1)
    assert np.all(np.abs(got - direct) <= near_edge)
    assert np.all(np.abs(got - direct) <= 0.01 * direct + 1)
    assert octave_counts({}, queries).tolist() == [0] * 300


def test_an_indexed_image_against_its_index_has_its_own_quality_flags(tmp_path: Path) -> None:
    """The indexed collection scanned against its own index gets the quality flags of its own scan
    (as the Linter's outliers do): an image the index already holds (an exact copy) counts as that
    row in the rarity rule, not once more.  The one 10 px thumbnail among 96 px pictures was
    ``odd_size`` in the scan and not against the index (itself and its indexed copy: 2, not rare)."""
    indexed, _ = _collections(tmp_path)
    PIL.fromarray(picture(300, 10)).save(indexed / "thumb.png")
    files, labels, _ = discover(indexed)
    own = update_index(tmp_path / "idx", files, labels, **KW)
    again = scan_against(tmp_path / "idx", files, labels, **KW)
    mine = {own.paths[int(own.index[p])]: [k for k, f in own.quality["flags"].items() if f[p]] for p in range(len(own.index))}
    want = {path: issues for path, issues in mine.items() if issues}
    got = {again.paths[i]: q["issues"] for i, q in again.against["quality"].items()}
    assert got == want and want[str(indexed / "thumb.png")] == ["odd_size"]
