"""``--against`` pairs a new image with an indexed one exactly when a scan of both together
puts them in one near pair: the same views (whole images, and a whole image against the
other's central crops, both ways) and the same rules (plain background, thumbnails, colour
cast, grey entropy, pixel spread).  An index written before the crops' memory-mapped hashes,
or without some figures, still answers (the rule that needs a missing figure is skipped)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from dataeval_gpu.audit import DataAudit, scan_files
from dataeval_gpu.audit.stat_findings import near_hash_pairs
from dataeval_gpu.detectors.hash_pairs import UNVERIFIED_RADIUS
from dataeval_gpu.functional.hashing import hamming_distance, near_hash
from dataeval_gpu.index import DatasetIndex, against_report, scan_against, update_index

from .blobs import blob

pytest.importorskip("pyarrow")
PIL = pytest.importorskip("PIL.Image")
skdata = pytest.importorskip("skimage.data")

KW = {"workers": 0, "progress": False}
RADIUS = 4  # the default's



def _plain(shift: int, scale: float = 1.0, size: int = 160) -> np.ndarray:
    """A smooth object on a white ground (81 % of the pixels clipped: a plain-background picture)."""
    y, x = np.mgrid[:size, :size].astype(float)
    r = ((x - 0.45 * size - shift) / (0.2 * size * scale)) ** 2 + ((y - 0.5 * size) / (0.3 * size)) ** 2
    g = np.where(r < 1, 60 + 80 * r + 0.4 * x, 255)
    rgb = np.stack([g, np.where(r < 1, g * 0.9, 255), np.where(r < 1, g * 0.8, 255)], axis=-1)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def _crop(a: np.ndarray, share: float) -> np.ndarray:
    h, w = a.shape[:2]
    dy, dx = round(h * share), round(w * share)
    return np.ascontiguousarray(a[dy : h - dy, dx : w - dx])


def _build(root: Path) -> tuple[Path, Path]:
    """An indexed part and a new part: real pictures (scikit-image's), their crops (4 % and 10 %
    a side), a mirror, a JPEG re-encode, a brightness change, two distinct dark objects that
    hash alike, two plain-background pictures 4 bits apart, unrelated pictures."""
    indexed, new = root / "indexed", root / "new"
    indexed.mkdir(parents=True)
    new.mkdir()
    pics = {n: getattr(skdata, n)() for n in ("astronaut", "coffee", "chelsea", "rocket", "camera", "coins")}
    pics = {n: (np.stack([v] * 3, -1) if v.ndim == 2 else v[..., :3]) for n, v in pics.items()}
    for n, v in pics.items():
        PIL.fromarray(v).save(indexed / f"{n}.png")
    PIL.fromarray(blob(1)).save(indexed / "object_a.png")
    PIL.fromarray(_plain(0)).save(indexed / "plain_a.png")
    PIL.fromarray(_crop(pics["astronaut"], 0.04)).save(new / "astronaut_crop4.png")
    PIL.fromarray(_crop(pics["coffee"], 0.1)).save(new / "coffee_crop10.png")
    PIL.fromarray(pics["chelsea"][:, ::-1]).save(new / "chelsea_mirror.png")
    # a phone crop: chelsea's (300 x 451) central 300 x 200 strip, resized to 240 x 160
    PIL.fromarray(np.ascontiguousarray(pics["chelsea"][:, 125:325])).resize((160, 240), PIL.LANCZOS).save(
        new / "chelsea_portrait.png"
    )
    PIL.fromarray(pics["rocket"]).save(new / "rocket_q40.jpg", quality=40)
    PIL.fromarray(np.clip(pics["camera"].astype(int) + 25, 0, 255).astype(np.uint8)).save(new / "camera_bright.png")
    PIL.fromarray(blob(2)).save(new / "object_b.png")
    PIL.fromarray(_plain(6, 1.1)).save(new / "plain_b.png")
    for n in ("moon", "horse"):
        v = getattr(skdata, n)()
        PIL.fromarray(np.stack([v] * 3, -1).astype(np.uint8) if v.ndim == 2 else v[..., :3]).save(new / f"{n}.png")
    return indexed, new


def _files(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.iterdir())


def _union_pairs(indexed: Path, new: Path, radius: int) -> set[tuple[str, str]]:
    """The cross-set near pairs of a plain scan of both parts together: (new name, indexed name)."""
    files = _files(indexed) + _files(new)
    audit = DataAudit(near_radius=radius)
    scan_files(files, audit=audit, **KW)
    index, rows, _ = audit.measured_rows()
    res = {k: torch.from_numpy(v) for k, v in rows.items()}
    pairs = near_hash_pairs(res, rows, index, radius)
    n_idx = len(_files(indexed))
    out = set()
    for i, j in pairs.tolist():
        if (i < n_idx) != (j < n_idx):
            a, b = (j, i) if i < n_idx else (i, j)
            out.add((Path(files[a]).name, Path(files[b]).name))
    return out


def _against_pairs(report) -> set[tuple[str, str]]:
    return {
        (Path(report.paths[m["image"]]).name, Path(m["partner_path"]).name)
        for m in report.against["matches"]
        if "near" in m["methods"]
    }


def _against_hamming(report) -> dict[tuple[str, str], int]:
    return {
        (Path(report.paths[m["image"]]).name, Path(m["partner_path"]).name): int(m["hamming"])
        for m in report.against["matches"]
        if "near" in m["methods"]
    }


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("parity")
    indexed, new = _build(root)
    update_index(root / "idx", _files(indexed), **KW)
    return indexed, new, root / "idx"


EXPECTED = {
    ("astronaut_crop4.png", "astronaut.png"),
    ("coffee_crop10.png", "coffee.png"),
    ("chelsea_mirror.png", "chelsea.png"),
    ("chelsea_portrait.png", "chelsea.png"),
    ("rocket_q40.jpg", "rocket.png"),
    ("camera_bright.png", "camera.png"),
}


@pytest.mark.parametrize("radius", [RADIUS, 2])
def test_against_pairs_equal_the_cross_pairs_of_a_scan_of_both_parts(parts, radius: int) -> None:
    indexed, new, idx = parts
    report = scan_against(idx, _files(new), near_radius=radius, **KW)
    got = _against_pairs(report)
    assert got == _union_pairs(indexed, new, radius)
    if radius == RADIUS:
        assert got == EXPECTED  # the planted copies, neither look-alike pair
        views = {Path(report.paths[m["image"]]).name: m["view"] for m in report.against["matches"]}
        assert views["astronaut_crop4.png"].startswith("new crop") or views["astronaut_crop4.png"].startswith(
            "indexed crop"
        )
        assert views["chelsea_mirror.png"] == "whole"
        assert views["chelsea_portrait.png"] == "indexed strip"


def test_the_look_alikes_are_candidates_that_the_rules_drop(parts) -> None:
    """Not vacuous: the two dark objects hash alike (thumbnails drop them) and the two plain
    pictures are 4 bits apart (the plain-background rule drops them)."""
    indexed, new, _ = parts
    ims = [np.asarray(PIL.open(p).convert("RGB")) for p in (indexed / "object_a.png", new / "object_b.png")]
    ims += [np.asarray(PIL.open(p).convert("RGB")) for p in (indexed / "plain_a.png", new / "plain_b.png")]
    h, _ = near_hash([torch.from_numpy(v.copy()).permute(2, 0, 1).contiguous() for v in ims], "pchash_d4")
    assert int(hamming_distance(h[0:1], h[1:2])[0]) == 0
    assert 0 < int(hamming_distance(h[2:3], h[3:4])[0]) <= RADIUS


def test_the_astronaut_crop_is_found_only_through_the_crops(parts) -> None:
    """A 4 %-a-side crop of astronaut.png: its whole hash is beyond the radius of the original's,
    so the old whole-against-whole search reported 0 copies; a view pair with a crop finds it."""
    indexed, new, idx = parts
    ims = [np.asarray(PIL.open(p).convert("RGB")) for p in (indexed / "astronaut.png", new / "astronaut_crop4.png")]
    h, _ = near_hash([torch.from_numpy(v.copy()).permute(2, 0, 1).contiguous() for v in ims], "pchash_d4")
    assert int(hamming_distance(h[0:1], h[1:2])[0]) > RADIUS
    report = scan_against(idx, [str(new / "astronaut_crop4.png")], **KW)
    (m,) = report.against["matches"]
    assert Path(m["partner_path"]).name == "astronaut.png" and m["methods"] == ["near"]
    assert m["hamming"] <= RADIUS and m["view"] != "whole"


def _old_index(src: Path, dst: Path, drop_columns: tuple[str, ...]) -> Path:
    """A copy of ``src`` as written before ``crops-G.npy`` existed, less ``drop_columns``."""
    pq = pytest.importorskip("pyarrow.parquet")
    shutil.copytree(src, dst)
    man = json.loads((dst / "manifest.json").read_text())
    (dst / man["files"].pop("crops")).unlink()
    flags = dst / man["files"]["flags"]
    np.save(flags, np.load(flags) & 3)  # no crop bits
    rows = dst / man["files"]["rows"]
    table = pq.read_table(rows)
    pq.write_table(table.drop([c for c in drop_columns if c in table.column_names]), rows)
    (dst / "manifest.json").write_text(json.dumps(man))
    return dst


def test_an_old_index_without_the_new_columns_still_answers(parts, tmp_path: Path) -> None:
    indexed, new, idx = parts
    files = _files(new)
    full = _against_pairs(scan_against(idx, files, **KW))
    # no crops-G.npy: the crops' hashes are read from the rows file, the same pairs
    old = _old_index(idx, tmp_path / "no_npy", ())
    assert DatasetIndex(old).crops is None and DatasetIndex(old).crop_hashes() is not None
    assert _against_pairs(scan_against(old, files, **KW)) == full
    # no crop hashes at all: only whole-image pairs (the crops are not found)
    old = _old_index(idx, tmp_path / "no_crops", ("pchash_crops", "pchash_crops_valid"))
    assert DatasetIndex(old).crop_hashes() is None
    got = _against_pairs(scan_against(old, files, **KW))
    assert got == full - {("astronaut_crop4.png", "astronaut.png"), ("coffee_crop10.png", "coffee.png")}
    # no strip hashes (an index written before them): the phone crop is not found, the rest is
    old = _old_index(idx, tmp_path / "no_strips", ("pchash_strip", "pchash_strip_valid", "pchash_strip_thumbs"))
    assert DatasetIndex(old).strip_hashes() is None
    assert _against_pairs(scan_against(old, files, **KW)) == full - {("chelsea_portrait.png", "chelsea.png")}
    # no thumbnails and no grey entropy: the entropy check is skipped and the indexed rows cannot
    # verify a pair, so, as rows restored from such an index into a scan, their pairs count only
    # within UNVERIFIED_RADIUS: the look-alike objects (hash distance 0) pair, the copies found
    # further away than that are lost
    old = _old_index(idx, tmp_path / "no_thumbs", ("pchash_thumbs", "grey_entropy"))
    got = _against_pairs(scan_against(old, files, **KW))
    dist = _against_hamming(scan_against(idx, files, **KW))
    far = {p for p in full if dist[p] > UNVERIFIED_RADIUS}
    assert far  # the 4 % crop of the astronaut matches at distance 4
    assert got == (full - far) | {("object_b.png", "object_a.png")}


def test_a_saved_report_applies_the_rules_it_has_figures_for(parts) -> None:
    """A report has the whole images' hashes and the statistics, no crops' hashes nor thumbnails:
    the whole-image pairs that pass the plain, colour, entropy and spread rules."""
    _, new, idx = parts
    report = scan_files(_files(new), **KW)
    got = _against_pairs(against_report(report, idx))
    whole = {p for p in EXPECTED if "crop" not in p[0] and "portrait" not in p[0]}  # no crop, no strip
    # the look-alike objects are not dropped without thumbnails unless another rule does
    assert whole <= got <= whole | {("object_b.png", "object_a.png")}
    assert ("plain_b.png", "plain_a.png") not in got


def test_without_the_quality_metrics_whole_images_within_the_radius_pair(parts, tmp_path: Path) -> None:
    """Without the quality metrics a scan pairs whole images within the radius, no rule applied:
    so does ``--against`` (the look-alikes pair), as the near hashes computed here say."""
    indexed, new, _ = parts
    update_index(tmp_path / "idx", _files(indexed), quality=False, near_radius=RADIUS, **KW)
    report = scan_against(tmp_path / "idx", _files(new), quality=False, near_radius=RADIUS, **KW)
    got = _against_pairs(report)
    a, b = _files(indexed), _files(new)
    ims = [torch.from_numpy(np.asarray(PIL.open(p).convert("RGB")).copy()).permute(2, 0, 1) for p in a + b]
    h, _ = near_hash([t.contiguous() for t in ims], "pchash_d4")
    d = hamming_distance(h[len(a) :, None], h[None, : len(a)]).numpy()
    want = {(Path(b[i]).name, Path(a[j]).name) for i, j in zip(*np.nonzero(d <= RADIUS))}
    assert got == want
    assert {("object_b.png", "object_a.png"), ("plain_b.png", "plain_a.png")} <= got
    assert ("astronaut_crop4.png", "astronaut.png") not in got


def test_the_command_line_names_the_crop_that_matched(parts, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dataeval_gpu.cli import main

    _, new, idx = parts
    extra = ["--no-plots", "--no-progress", "--workers", "0"]
    one = tmp_path / "one"
    one.mkdir()
    shutil.copy(new / "astronaut_crop4.png", one)
    shutil.copy(new / "chelsea_mirror.png", one)
    assert main(["scan", str(one), "--against", str(idx), "--out", str(tmp_path / "out"), *extra]) == 0
    out = capsys.readouterr().out
    doc = json.loads((tmp_path / "out" / "findings.json").read_text())["against"]["matches"]
    crop = next(m for m in doc if m["partner_path"].endswith("astronaut.png"))
    assert f"0:astronaut_crop4.png = {crop['partner_path']} (near, hamming {crop['hamming']}, {crop['view']})\n" in out
    assert "crop" in crop["view"]
    assert "1:chelsea_mirror.png = " in out and "(near, hamming 0)\n" in out


def test_a_byte_identical_copy_is_reported_once_as_exact_as_a_scan_of_both_sets(tmp_path: Path) -> None:
    """A new file copied byte for byte from an indexed one was listed as ``exact+near`` (and
    counted in both ``against_exact_copies`` and ``against_near_copies``); a scan of both sets
    puts the pair in an exact group only (a pair inside one exact group is not a near one)."""
    indexed, new = tmp_path / "indexed", tmp_path / "new"
    indexed.mkdir()
    new.mkdir()
    for n in ("astronaut", "chelsea", "coffee"):
        PIL.fromarray(getattr(skdata, n)()[..., :3]).save(indexed / f"{n}.png")
    shutil.copyfile(indexed / "astronaut.png", new / "astronaut_copy.png")
    PIL.fromarray(skdata.chelsea()[:, ::-1]).save(new / "chelsea_mirror.png")
    update_index(tmp_path / "idx", _files(indexed), **KW)
    report = scan_against(tmp_path / "idx", _files(new), **KW)
    got = {(Path(report.paths[m["image"]]).name, Path(m["partner_path"]).name): m["methods"]
           for m in report.against["matches"]}
    assert got == {("astronaut_copy.png", "astronaut.png"): ["exact"], ("chelsea_mirror.png", "chelsea.png"): ["near"]}
    s = report.summary_dict()
    assert (s["against_exact_copies"], s["against_near_copies"]) == (1, 1)
    # the scan of both sets: the copy is in an exact group, not a near one; the mirror in a near group
    files = _files(indexed) + _files(new)
    both = scan_files(files, audit=DataAudit(), **KW)
    name = lambda groups: {tuple(sorted(Path(files[i]).name for i in g)) for g in groups}  # noqa: E731
    assert name(both.duplicates["exact"]) == {("astronaut.png", "astronaut_copy.png")}
    assert name(both.duplicates["near"]) == {("chelsea.png", "chelsea_mirror.png")}
    # the same from a report alone (against_report)
    again = against_report(scan_files(_files(new), audit=DataAudit(), **KW), tmp_path / "idx")
    assert sorted(m["methods"] for m in again.against["matches"]) == [["exact"], ["near"]]


def test_against_does_not_pair_icons_sharing_a_silhouette(tmp_path: Path) -> None:
    """RGBA icons in one silhouette on transparent: the index's pair rules count the transparent
    ground in as a scan's do (``opacity`` read with the figures): a different icon is not paired
    (it was, 4 bits apart, while the rules read only the visible pixels' figures), a copy 4 levels
    brighter is; both as a scan of both parts together pairs them."""
    from tests.detectors.test_near_duplicates import disc_icons

    icons = disc_icons()
    indexed, new = tmp_path / "indexed", tmp_path / "new"
    indexed.mkdir()
    new.mkdir()
    for k in (0, 2):
        PIL.fromarray(np.ascontiguousarray(icons[k].transpose(1, 2, 0)), "RGBA").save(indexed / f"icon{k}.png")
    for k in (6, 8):
        PIL.fromarray(np.ascontiguousarray(icons[k].transpose(1, 2, 0)), "RGBA").save(new / f"icon{k}.png")
    update_index(tmp_path / "idx", _files(indexed), **KW)
    report = scan_against(tmp_path / "idx", _files(new), **KW)
    assert _against_pairs(report) == {("icon8.png", "icon0.png")}
    assert _union_pairs(indexed, new, RADIUS) == {("icon8.png", "icon0.png")}


FASHION = Path(__file__).resolve().parents[2] / "data_cache" / "fashion-mnist"


@pytest.mark.skipif(not (FASHION / "t10k-images-idx3-ubyte.gz").exists(), reason="Fashion-MNIST not fetched")
def test_against_verifies_small_images_as_a_scan_does(tmp_path: Path) -> None:
    """28 x 28 garments (Fashion-MNIST test set): two pairs of distinct garments within 2 bits
    (shirts 4868 / 6001, jackets 7816 / 9785) and two images stored twice (a pair of trousers,
    2115 / 4926; a bag 6 levels apart, 802 / 9921).  The index's rules read the images' sides
    (``height`` / ``width``) and their enlarged 24 px squares as a scan does: only the copies pair."""
    import gzip

    with gzip.open(FASHION / "t10k-images-idx3-ubyte.gz") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    indexed, new = tmp_path / "indexed", tmp_path / "new"
    indexed.mkdir()
    new.mkdir()
    for k in (4868, 7816, 2115, 802):
        PIL.fromarray(x[k]).save(indexed / f"fm{k}.png")
    for k in (6001, 9785, 4926, 9921):
        PIL.fromarray(x[k]).save(new / f"fm{k}.png")
    update_index(tmp_path / "idx", _files(indexed), **KW)
    report = scan_against(tmp_path / "idx", _files(new), **KW)
    want = {("fm4926.png", "fm2115.png"), ("fm9921.png", "fm802.png")}
    assert _against_pairs(report) == want
    assert _union_pairs(indexed, new, RADIUS) == want
