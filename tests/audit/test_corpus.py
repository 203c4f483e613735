"""Every kind of bad input: the generated corpus of files (``scripts/make_bad_corpus.py``)
through the ``scan`` command, and the bad in-memory arrays through the library.

A folder scan never stops for one bad file: every file is in ``results.csv`` exactly once,
measured (with the shape, dtype-derived depth and conversion documented in
``docs/inputs.md``) or failed with a readable reason.  Arrays are measured where a sensible
result exists and raise an error naming the index and the problem otherwise.
"""

from __future__ import annotations

import errno
import importlib.util
import io
import json
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

import dataeval_gpu.discovery as discovery
import dataeval_gpu.io as io_mod
from dataeval_gpu import errors
from dataeval_gpu.audit import DataAudit, scan
from dataeval_gpu.batching import as_image
from dataeval_gpu.cli import main
from dataeval_gpu.functional.quality import QUALITY_KEYS
from dataeval_gpu.io import ImageFiles, decode_file, discover, find_inputs, gpu_decode, image_magic

from .. import reference as R

ROOT = Path(__file__).resolve().parents[2]


def load_corpus_module() -> ModuleType:
    """``scripts/make_bad_corpus.py`` as a module (scripts/ is not a package)."""
    name = "make_bad_corpus"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / "make_bad_corpus.py")
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod  # dataclasses look their module up
        spec.loader.exec_module(mod)
    return sys.modules[name]


corpus = load_corpus_module()
ARRAY_CASES = {c.name: c for c in corpus.array_cases()}
SCAN_FLAGS = ["--no-progress", "--no-plots"]  # hashes and duplicates on: the default
# the scan columns compared with the float64 reference for every measured file
REFERENCE_KEYS = (
    "width", "height", "channels", "depth", "mean", "std", "skew", "entropy", "zero",
    "missing", "blurriness", "sharpness", "darkness", "contrast",
)  # fmt: skip


def read_results(out: Path) -> pd.DataFrame:
    """``results.csv`` with the hashes as strings (a hex hash such as 8000000000000000 would
    otherwise be read as a number) and empty cells as NaN."""
    return pd.read_csv(
        out / "results.csv", dtype={"xxhash": str, "pchash": str}, keep_default_na=False, na_values=[""]
    )


def _ref_stats(img: np.ndarray) -> dict:
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return R.image_stats(img)


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    d = tmp_path_factory.mktemp("bad_corpus")
    cases = corpus.write_corpus(d, big=False)
    return d, cases


def emulate_file_permissions(real_open: Callable[..., Any] = open) -> Callable[..., Any]:
    """``open`` as an ordinary user sees it: a file without read permission cannot be read.

    Root ignores permission bits (a mode-000 file is readable by root), so under root the
    corpus scan reads files through this; ``test_permission_denied_is_real`` checks the real
    thing in a process without root's override.
    """

    def guarded(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if "r" in mode and isinstance(file, (str, os.PathLike)) and os.path.isfile(file):
            if not os.stat(file).st_mode & 0o444:
                raise PermissionError(errno.EACCES, "Permission denied", os.fspath(file))
        return real_open(file, mode, *args, **kwargs)

    return guarded


@pytest.fixture(scope="module")
def scanned(
    corpus_dir: tuple[Path, list], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, pd.DataFrame]:
    """The corpus through the ``scan`` command; the files marked ``deleted_after_listing`` are
    removed right after the folder is listed (before any file is read)."""
    d, cases = corpus_dir
    out = tmp_path_factory.mktemp("bad_corpus_scan")
    real_find = discovery.find_inputs

    def find_then_delete(*args: Any, **kwargs: Any) -> Any:
        listed = real_find(*args, **kwargs)
        for c in cases:
            if c.deleted_after_listing:
                (d / c.name).unlink()
        return listed

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(discovery, "find_inputs", find_then_delete)
        if os.name == "posix" and os.geteuid() == 0:
            mp.setattr(io_mod, "open", emulate_file_permissions(), raising=False)
        assert main(["scan", str(d), "--out", str(out), "--batch-size", "8", *SCAN_FLAGS]) == 0
    df = read_results(out)
    return out, df


def _rows(df: pd.DataFrame) -> dict[str, pd.Series]:
    return {Path(p).name: row for p, (_, row) in zip(df["path"], df.iterrows(), strict=True)}


# ----------------------------------------------------------------------------- the folder scan


def test_every_file_is_listed_exactly_once(
    corpus_dir: tuple[Path, list], scanned: tuple[Path, pd.DataFrame]
) -> None:
    d, cases = corpus_dir
    out, df = scanned
    names = [Path(p).name for p in df["path"]]
    deleted = [c.name for c in cases if c.deleted_after_listing]
    assert deleted and not any((d / n).exists() for n in deleted)
    assert sorted(names) == sorted([p.name for p in d.iterdir()] + deleted)
    assert sorted(names) == sorted(c.name for c in cases)
    assert len(set(names)) == len(names) and df["index"].is_unique
    assert set(df["status"]) <= {"ok", "failed"}
    failed = json.loads((out / "findings.json").read_text())["failed"]
    assert {Path(df.loc[df["index"] == int(i), "path"].item()).name for i in failed} == set(
        df.loc[df["status"] == "failed", "path"].map(lambda p: Path(p).name)
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["images"] == len(cases)
    assert summary["measured"] + summary["failed"] == len(cases)


def test_each_kind_has_its_expected_outcome(
    corpus_dir: tuple[Path, list], scanned: tuple[Path, pd.DataFrame]
) -> None:
    _, cases = corpus_dir
    rows = _rows(scanned[1])
    problems = []
    for c in cases:
        row = rows[c.name]
        if row["status"] != c.status:
            problems.append(f"{c.name}: status {row['status']!r} ({row['error']}), expected {c.status!r}")
            continue
        if c.status == "failed":
            if c.reason not in str(row["error"]):
                problems.append(f"{c.name}: reason {row['error']!r} does not mention {c.reason!r}")
            continue
        got = (int(row["channels"]), int(row["height"]), int(row["width"]), int(row["depth"]))
        want = (c.channels, c.height, c.width, c.depth)
        if got != want:
            problems.append(f"{c.name}: (channels, height, width, depth) {got}, expected {want}")
    assert not problems, "\n".join(problems)


def test_failure_reasons_are_readable(scanned: tuple[Path, pd.DataFrame]) -> None:
    _, df = scanned
    for err in df.loc[df["status"] == "failed", "error"]:
        assert isinstance(err, str) and len(err) > 10
        assert ".cpp:" not in err and "/__w/" not in err and "0x" not in err, (
            err
        )  # no build paths / addresses


def test_measured_values_match_the_reference(
    corpus_dir: tuple[Path, list], scanned: tuple[Path, pd.DataFrame]
) -> None:
    """What the scan wrote for each measured file is the reference's value for the decoded image."""
    d, cases = corpus_dir
    rows = _rows(scanned[1])
    problems = []
    for c in cases:
        if c.status != "ok":
            continue
        img = decode_file(d / c.name).numpy()
        if str(img.dtype) != c.dtype:
            problems.append(f"{c.name}: decoded dtype {img.dtype}, expected {c.dtype}")
        ref = _ref_stats(img)
        for key in REFERENCE_KEYS:
            if not R.close(rows[c.name][key], ref[key]).all():
                problems.append(f"{c.name}: {key} = {rows[c.name][key]} in results.csv, reference {ref[key]}")
    assert not problems, "\n".join(problems)


def test_decoded_pixels(corpus_dir: tuple[Path, list]) -> None:
    """The conversions: palette → RGB(A), alpha kept, 16-bit kept, first GIF frame, EXIF rotation
    applied, CMYK → RGB (lossless cases exact, JPEG cases within JPEG error)."""
    d, cases = corpus_dir
    problems = []
    for c in cases:
        if c.status != "ok" or (c.expected is None and c.approx is None):
            continue
        img = decode_file(d / c.name).numpy()
        if c.expected is not None and not (img.dtype == c.expected.dtype and np.array_equal(img, c.expected)):
            problems.append(f"{c.name}: decoded {img.dtype} {img.shape} differs from the expected pixels")
        if c.approx is not None:
            if img.shape != c.approx.shape:
                problems.append(f"{c.name}: shape {img.shape}, expected {c.approx.shape}")
            elif np.abs(img.astype(np.float64) - c.approx).mean() > 4:
                problems.append(
                    f"{c.name}: mean |difference| {np.abs(img.astype(float) - c.approx).mean():.1f}"
                )
    assert not problems, "\n".join(problems)
    # the rotation really happened: the dark half of the stored image is now on top
    rot = decode_file(d / "exif_rotated.jpg").numpy().astype(int)
    assert rot[:, :32].mean() < 100 < rot[:, 32:].mean()


def test_duplicates_and_hashes_on_the_corpus(scanned: tuple[Path, pd.DataFrame]) -> None:
    out, df = scanned
    rows = _rows(df)
    # the same pixels are an exact duplicate whatever the file format (BMP, PNG, a copy)
    exact = json.loads((out / "findings.json").read_text())["duplicates"]["exact"]
    names = [{Path(df.loc[df["index"] == i, "path"].item()).name for i in g} for g in exact]
    assert {"photo.bmp", "photo_astronaut.png", "photo_astronaut_copy.png"} in names
    near = "pchash_d4"  # the scan's default near hash (D4; --preset dataeval-0.65: "pchash")
    for name in ("one_pixel.png", "wide_1x10000.png", "tall_10000x1.png"):  # min side < 9: no pHash
        assert pd.isna(rows[name][near])
    assert (
        isinstance(rows["photo_chelsea.jpg"][near], str)
        and len(rows["photo_chelsea.jpg"]["xxhash"]) == 16
    )


def test_gpu_jpeg_routing_decodes_the_same(corpus_dir: tuple[Path, list]) -> None:
    """With GPU decoding on, plain JPEGs travel as bytes; rotated and CMYK ones are decoded in
    the worker.  Decoding the bytes (here nvJPEG's CPU twin) gives what decode_file gives."""
    d, cases = corpus_dir
    cases = [c for c in cases if c.mode is None and not c.deleted_after_listing]  # outcome set by the scan
    files = [str(d / c.name) for c in cases]
    ds = ImageFiles(files, gpu_jpeg=True)
    items = [ds[i] for i in range(len(ds))]
    by_name = {Path(it.path).name: it for it in items}
    assert by_name["photo_chelsea.jpg"].raw is not None and by_name["photo_chelsea.jpg"].image is None
    assert by_name["grey.jpg"].raw is not None
    assert by_name["jpeg_named.png"].raw is not None  # by content, not by name
    for name in ("exif_rotated.jpg", "cmyk.jpg", "palette.png", "animated.gif"):
        assert by_name[name].raw is None and by_name[name].image is not None, name
    assert by_name["empty.jpg"].error and by_name["truncated.jpg"].raw is not None
    gpu_decode(items, torch.device("cpu"))
    for it in items:
        c = next(c for c in cases if c.name == Path(it.path).name)
        assert (it.image is not None) == (c.status == "ok"), (c.name, it.error)
        if it.image is not None:
            assert torch.equal(it.image, decode_file(it.path)), c.name


def test_discover_lists_every_file_but_metadata_and_hidden(tmp_path: Path) -> None:
    for name in ("b.png", "a.jpg", "weird.bin", "noext", "notes.txt", "labels.json", ".DS_Store"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "IMG_0001").write_bytes(b"\xff\xd8\xff\xe0 a JPEG without a suffix")
    (tmp_path / "scan.dat").write_bytes(b"II*\x00 a TIFF under another name")
    (tmp_path / "font.ttf").write_bytes(b"\x00\x01\x00\x00\x00\x12")
    (tmp_path / "gone.so").symlink_to("missing.so")  # a broken link not named like an image
    found = find_inputs(tmp_path)
    assert [Path(f).name for f in found.files] == ["IMG_0001", "a.jpg", "b.png", "scan.dat"]
    assert found.labels == [-1] * 4 and found.class_names == []
    # neither named nor encoded like an image: skipped, and named (never dropped silently)
    assert [Path(f).name for f in found.skipped] == ["font.ttf", "gone.so", "noext", "weird.bin"]
    assert found.skipped_summary() == "4 files (.ttf 1, .so 1, (no suffix) 1, .bin 1)"
    assert discover(tmp_path)[0] == found.files
    # one image-named file given as PATH is one input (an SVG's XML lines were read as a file list)
    (tmp_path / "d.svg").write_text('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>\n')
    assert find_inputs(tmp_path / "d.svg").files == [str(tmp_path / "d.svg")]
    (tmp_path / "x.heic").mkdir()  # a folder named like an image: listed (and failed) like x.jpg/
    assert str(tmp_path / "x.heic") in find_inputs(tmp_path).files


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP", "TIFF", "BMP", "ICO", "PPM", "JPEG2000"])
def test_image_magic_knows_the_formats_pillow_writes(fmt: str) -> None:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("L" if fmt == "PPM" else "RGB", (16, 16), 90).save(buf, fmt)
    assert image_magic(buf.getvalue()[:16])


@pytest.mark.parametrize(
    "head",
    [b"", b"x", b"hello, world\n", b"\x1f\x8b\x08\x00", b"PK\x03\x04", b"\x00\x01\x00\x00\x00\x12", b"%PDF-1.7"],
)
def test_image_magic_rejects_other_files(head: bytes) -> None:
    assert not image_magic(head)


def test_the_scan_names_the_files_it_skips(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from PIL import Image

    data = tmp_path / "data"
    data.mkdir()
    Image.new("RGB", (20, 12), (10, 200, 30)).save(data / "p.png")
    Image.new("RGB", (20, 12), (10, 200, 30)).save(data / "no_suffix", "JPEG")
    (data / "shader.frag").write_text("void main() {}\n")
    out = tmp_path / "out"
    assert main(["scan", str(data), "--out", str(out), "--no-progress", "--workers", "0", "--no-plots"]) == 0
    text = capsys.readouterr().out
    assert [Path(p).name for p in read_results(out)["path"]] == ["no_suffix", "p.png"]
    assert (out / "skipped.txt").read_text() == f"{data / 'shader.frag'}\n"
    assert "skipped 1 file (.frag 1): neither named nor encoded like an image" in text
    config = json.loads((out / "config.json").read_text())
    assert config["skipped_not_images"] == "1 file (.frag 1), listed in skipped.txt"
    (data / "shader.frag").unlink()
    assert main(["scan", str(data), "--out", str(out), "--no-progress", "--workers", "0", "--no-plots"]) == 0
    assert not (out / "skipped.txt").exists()  # the earlier scan's list is not left behind


def test_a_single_measured_image_is_one_row() -> None:
    audit = DataAudit(hashes=False)
    audit.update([np.full((1, 4, 4), 9, np.uint8)], indices=[3])
    report = audit.compute()
    assert report.index.tolist() == [3] and report.stats["mean"].shape == (1,)
    assert len(report.to_pandas()) == 1


# ----------------------------------------------------------------------------- arrays


@pytest.mark.parametrize("name", [n for n, c in ARRAY_CASES.items() if c.status == "ok"])
def test_array_case_is_measured(name: str) -> None:
    case = ARRAY_CASES[name]
    report = scan([case.value], hashes=False)
    assert report.failed == {} and report.index.tolist() == [0]
    st = {k: v[0] for k, v in report.stats.items()}
    assert (st["channels"], st["height"], st["width"], st["depth"]) == (
        case.channels,
        case.height,
        case.width,
        case.depth,
    )
    arr = np.asarray(case.value)
    arr = arr.reshape(arr.shape[-3:]) if arr.ndim == 4 else arr
    ref = _ref_stats(arr)
    for key, want in ref.items():
        assert R.close(st[key], want).all(), f"{name}: {key} = {st[key]}, reference {want}"


def test_special_float_values_make_sense() -> None:
    """NaN counts as missing; ±inf keeps its DataEval meaning (depth 32, infinite mean)."""
    st = {n: {k: v[0] for k, v in scan([ARRAY_CASES[n].value], hashes=False).stats.items()} for n in
          ("float_nan", "float_inf", "all_nan", "all_inf", "bool", "all_zero_uint8")}  # fmt: skip
    assert st["float_nan"]["missing"] == pytest.approx(4 / 256) and np.isnan(st["float_nan"]["mean"])
    assert st["all_nan"]["missing"] == 1.0
    assert st["float_inf"]["mean"] == np.inf and st["float_inf"]["missing"] == 0
    assert st["all_inf"]["sharpness"] == 0.0 and np.isnan(st["all_inf"]["blurriness"])
    assert st["bool"]["depth"] == 1 and 0 < st["bool"]["mean"] < 1
    assert st["all_zero_uint8"]["zero"] == 3.0 and np.isnan(st["all_zero_uint8"]["skew"])


def test_all_array_cases_in_one_batch_equal_one_by_one() -> None:
    ok = [c for c in ARRAY_CASES.values() if c.status == "ok"]
    together = scan([c.value for c in ok], hashes=False, batch_size=len(ok))
    assert together.index.tolist() == list(range(len(ok)))
    for i, c in enumerate(ok):
        alone = scan([c.value], hashes=False)
        for key, val in alone.stats.items():
            if key in QUALITY_KEYS:  # float32 sums: the summation order may differ with the batch
                np.testing.assert_allclose(together.stats[key][i], val[0], rtol=1e-6, err_msg=f"{c.name} {key}")
            else:
                np.testing.assert_array_equal(together.stats[key][i], val[0], err_msg=f"{c.name} {key}")


@pytest.mark.parametrize("name", [n for n, c in ARRAY_CASES.items() if c.status != "ok"])
def test_array_case_raises_naming_index_and_problem(name: str) -> None:
    case = ARRAY_CASES[name]
    err_cls = getattr(errors, case.status)
    with pytest.raises(err_cls, match=r"image 7: .*") as info:
        as_image(case.value, 7)
    assert case.reason in str(info.value)
    # through the one-call scan (the feed loop's policy): listed as failed, the position named
    good = np.zeros((1, 4, 4), np.uint8)
    report = scan([good, good, case.value, good], hashes=False)
    assert report.index.tolist() == [0, 1, 3] and list(report.failed) == [2]
    assert report.failed[2].startswith("image 2: ") and case.reason in report.failed[2]
    # and through DataAudit.update with dataset indices
    with pytest.raises(err_cls, match=r"image 41: "):
        DataAudit(hashes=False).update([good, case.value], indices=[40, 41])


# ----------------------------------------------------------------------------- the big one


@pytest.mark.slow
def test_12000_by_12000_jpeg_is_measured(tmp_path: Path) -> None:
    big = next(c for c in corpus.file_cases(big=True, photos=1) if c.big)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / big.name).write_bytes(big.data())
    t0 = time.perf_counter()
    assert main(["scan", str(tmp_path / "in"), "--out", str(tmp_path / "out"), *SCAN_FLAGS]) == 0
    elapsed = time.perf_counter() - t0
    df = read_results(tmp_path / "out")
    assert len(df) == 1 and df["status"].item() == "ok", df["error"].item()
    row = df.iloc[0]
    assert (row["channels"], row["height"], row["width"], row["depth"]) == (1, 12_000, 12_000, 8)
    assert 0.3 < row["mean"] < 0.6 and row["missing"] == 0
    assert isinstance(row["pchash_d4"], str) and row["pchash_d4"]  # the scan's default D4 near hash
    assert elapsed < 300


# ----------------------------------------------------------------------------- discovery


def test_discover_lists_links_pipes_and_image_named_folders(tmp_path: Path) -> None:
    """Every entry that could be an image is listed (and later failed with its reason);
    hidden folders are not entered, a link back to a parent folder is not walked again,
    two links to one folder list its files twice (two inputs)."""
    root = tmp_path / "data"
    (root / "sub").mkdir(parents=True)
    (root / "a.jpg").write_bytes(b"x")
    (root / "sub" / "b.png").write_bytes(b"x")
    (root / "broken.jpg").symlink_to("nowhere.jpg")
    (root / "folder.png").mkdir()
    (root / "folder.png" / "inner.gif").write_bytes(b"x")
    os.mkfifo(root / "pipe.jpg")
    (root / ".cache").mkdir()
    (root / ".cache" / "thumb.jpg").write_bytes(b"x")
    (root / "sub" / "loop").symlink_to("..")  # a loop: not walked again
    (root / "link1").symlink_to("sub")
    (root / "notes.txt").write_text("metadata")
    files, labels, classes = discover(root)
    rel = [str(Path(f).relative_to(root)) for f in files]
    assert rel == [
        "a.jpg", "broken.jpg", "folder.png", "folder.png/inner.gif", "link1/b.png", "pipe.jpg", "sub/b.png",
    ]  # fmt: skip
    assert labels == [-1] * len(files) and classes == []
    ds = ImageFiles(files)
    reasons = {r: ds[i].error for i, r in enumerate(rel)}
    assert "broken symbolic link" in reasons["broken.jpg"] and "nowhere.jpg" in reasons["broken.jpg"]
    assert "a folder, not an image file" in reasons["folder.png"]
    assert "named pipe" in reasons["pipe.jpg"] and "not a regular file" in reasons["pipe.jpg"]
    assert all(ds[i].image is None and ds[i].error for i in range(len(ds)))


def test_class_tree_labels_survive_a_folder_named_like_an_image(tmp_path: Path) -> None:
    for cls in ("cat", "dog"):
        (tmp_path / cls).mkdir()
        (tmp_path / cls / "1.png").write_bytes(b"x")
    (tmp_path / "dog" / "odd.jpg").mkdir()  # a folder named like an image, two levels down
    files, labels, classes = discover(tmp_path)
    assert classes == ["cat", "dog"]
    assert dict(zip((str(Path(f).relative_to(tmp_path)) for f in files), labels, strict=True)) == {
        "cat/1.png": 0, "dog/1.png": 1, "dog/odd.jpg": 1,
    }  # fmt: skip


def test_a_stray_file_in_a_class_tree_is_named_in_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """One file beside the class folders (or one level deeper) means no labels at all; that
    used to happen silently (92 Fashion-MNIST PNGs in 3 class folders scanned with label -1)."""
    for cls in ("cat", "dog"):
        (tmp_path / cls).mkdir()
        for k in range(3):
            (tmp_path / cls / f"{k}.png").write_bytes(b"x")
    (tmp_path / "stray.png").write_bytes(b"x")
    (tmp_path / "dog" / "more").mkdir()
    (tmp_path / "dog" / "more" / "deep.png").write_bytes(b"x")
    with caplog.at_level("WARNING", logger="dataeval_gpu.io"):
        files, labels, classes = discover(tmp_path)
    assert labels == [-1] * 8 and classes == []
    assert "no class labels from the folder names: 2 of 8 files are not exactly one folder down" in caplog.text
    assert "stray.png" in caplog.text and os.path.join("dog", "more", "deep.png") in caplog.text
    caplog.clear()
    (tmp_path / "stray.png").unlink()
    (tmp_path / "dog" / "more" / "deep.png").unlink()
    with caplog.at_level("WARNING", logger="dataeval_gpu.io"):
        _, labels, classes = discover(tmp_path)
    assert classes == ["cat", "dog"] and labels == [0, 0, 0, 1, 1, 1] and caplog.text == ""
    caplog.clear()
    (tmp_path / "a.png").write_bytes(b"x")  # a flat folder with one sub-folder: no class tree, no warning
    for name in ("b.png", "c.png", "d.png", "e.png", "f.png", "g.png"):
        (tmp_path / name).write_bytes(b"x")
    with caplog.at_level("WARNING", logger="dataeval_gpu.io"):
        discover(tmp_path)
    assert caplog.text == ""


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_a_file_list_of_unicode_paths_or_with_a_bom_is_a_list(tmp_path: Path, bom: bytes) -> None:
    """A list whose first line holds a non-ASCII path (or that Notepad saved with a byte-order
    mark) was taken for one image, and failed as an unknown format."""
    from PIL import Image

    names = ["ünïcödé 画像.png", "plain.png"]
    for n in names:
        Image.fromarray(np.full((9, 9), 7, np.uint8)).save(tmp_path / n)
    lst = tmp_path / "files.txt"
    lst.write_bytes(bom + "".join(f"{tmp_path / n}\n" for n in names).encode("utf-8"))
    files, labels, _ = discover(lst)
    assert files == [str(tmp_path / n) for n in names] and labels == [-1, -1]
    for image in names:  # an image is never a list
        assert discover(tmp_path / image)[0] == [str(tmp_path / image)]
    for fmt in ("BMP", "TIFF", "GIF", "WEBP"):
        path = tmp_path / f"x.{fmt.lower()}.bin"  # a name that does not say it is an image
        Image.fromarray(np.full((9, 9, 3), 200, np.uint8)).save(path, fmt)
        assert discover(path)[0] == [str(path)], fmt


def test_file_list_paths_resolve_from_the_working_directory_then_the_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "lists").mkdir()
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "a.jpg").write_bytes(b"x")  # relative to the working directory
    (tmp_path / "lists" / "b.jpg").write_bytes(b"x")  # relative to the list's folder
    (tmp_path / "lists" / "imgs").mkdir()
    (tmp_path / "lists" / "imgs" / "a.jpg").write_bytes(b"y")  # in both: the working directory wins
    absolute = tmp_path / "imgs" / "a.jpg"
    lst = tmp_path / "lists" / "files.lst"
    lst.write_text(f"# comment\nimgs/a.jpg\n\n  b.jpg  \n{absolute}\nmissing.jpg\n")
    monkeypatch.chdir(tmp_path)
    files, labels, _ = discover("lists/files.lst")
    assert files == ["imgs/a.jpg", "lists/b.jpg", str(absolute), "missing.jpg"]
    assert labels == [-1] * 4
    monkeypatch.chdir(tmp_path / "lists")  # from the list's folder both rules agree
    assert discover("files.lst")[0] == ["imgs/a.jpg", "b.jpg", str(absolute), "missing.jpg"]


def test_one_image_file_is_scanned_alone_whatever_its_suffix(tmp_path: Path) -> None:
    (tmp_path / "photo.JPG").write_bytes(b"\xff\xd8\xff\xe0 not really")
    (tmp_path / "photo.heic").write_bytes(b"\x00\x00\x00\x18ftypheic")  # binary: not a list
    assert discover(tmp_path / "photo.JPG")[0] == [str(tmp_path / "photo.JPG")]
    assert discover(tmp_path / "photo.heic")[0] == [str(tmp_path / "photo.heic")]


_DROP_FILE_OVERRIDE = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH: root's way around file modes
    if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
        sys.exit(77)
os.execv(sys.executable, [sys.executable, "-c", sys.argv[1], *sys.argv[2:]])
"""
_SCAN = "import sys; from dataeval_gpu.cli import main; sys.exit(main(sys.argv[1:]))"


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_permission_denied_is_real(tmp_path: Path) -> None:
    """Unreadable files and folders, really unreadable (under root: in a process without
    root's file-permission override), are listed as failed with the reason."""
    from PIL import Image

    data = tmp_path / "data"
    (data / "locked").mkdir(parents=True)
    Image.fromarray(np.full((16, 16), 90, np.uint8)).save(data / "ok.png")
    Image.fromarray(np.full((16, 16), 90, np.uint8)).save(data / "locked" / "hidden_inside.png")
    (data / "denied.png").write_bytes((data / "ok.png").read_bytes())
    (data / "denied.png").chmod(0o000)
    (data / "locked").chmod(0o000)
    out = tmp_path / "out"
    argv = ["scan", str(data), "--out", str(out), "--workers", "0", *SCAN_FLAGS]
    cmd = [sys.executable, "-c", _SCAN, *argv]
    if os.geteuid() == 0:
        cmd = [sys.executable, "-c", _DROP_FILE_OVERRIDE, _SCAN, *argv]
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    finally:
        (data / "locked").chmod(0o755)
    if proc.returncode == 77:
        pytest.skip("cannot drop root's file-permission override here (no CAP_SETPCAP)")
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = _rows(read_results(out))
    assert sorted(rows) == ["denied.png", "locked", "ok.png"]
    assert rows["ok.png"]["status"] == "ok"
    assert rows["denied.png"]["status"] == "failed" and "permission denied" in rows["denied.png"]["error"]
    assert rows["locked"]["status"] == "failed" and "cannot be read" in rows["locked"]["error"]


def test_every_corpus_file_is_documented(corpus_dir: tuple[Path, list]) -> None:
    doc = (ROOT / "docs" / "inputs.md").read_text()
    names = [c.name for c in corpus_dir[1] if not c.name.startswith("photo_")] + [corpus.BIG_NAME]
    assert [n for n in names if f"`{n}" not in doc] == []


def test_an_earlier_scans_output_inside_the_folder_is_not_scanned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from PIL import Image

    Image.fromarray(np.full((12, 12), 50, np.uint8)).save(tmp_path / "a.png")
    monkeypatch.chdir(tmp_path)
    flags = ["--no-progress", "--workers", "0", "--quiet"]
    assert main(["scan", ".", *flags]) == 0  # default --out: ./dataeval_gpu_out, inside "."
    (tmp_path / "dataeval_gpu_out" / "plots").mkdir(exist_ok=True)
    Image.fromarray(np.zeros((9, 9), np.uint8)).save(tmp_path / "dataeval_gpu_out" / "plots" / "hist.png")
    with caplog.at_level("WARNING"):
        assert main(["scan", ".", *flags]) == 0
    assert [Path(p).name for p in read_results(tmp_path / "dataeval_gpu_out")["path"]] == ["a.png"]
    # this scan's own --out: left out without a word (polish18: the warning came on every later scan)
    assert "output folder of an earlier scan" not in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):  # another --out: the earlier scan's folder left out is named
        assert main(["scan", ".", "--out", "other", *flags]) == 0
    assert [Path(p).name for p in read_results(tmp_path / "other")["path"]] == ["a.png"]
    assert "dataeval_gpu_out: not scanned, it is the output folder of an earlier scan" in caplog.text
    # scanned on purpose (as the root), it is scanned
    listed = discover(tmp_path / "dataeval_gpu_out")[0]
    assert any(Path(p).parent.name == "plots" for p in listed), listed  # the report's own figures


def test_scanning_into_the_scanned_folder_leaves_out_the_last_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """``scan . --out .`` twice: the second scan measured the first one's report.html (failed,
    "a text file") and plots/*.jpg, *.svg (3 photos became 9 rows). It leaves them out."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for k in range(3):
        Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(tmp_path / f"p{k}.png")
    monkeypatch.chdir(tmp_path)
    flags = ["--out", ".", "--no-progress", "--workers", "0", "--quiet"]
    assert main(["scan", ".", *flags]) == 0
    assert (tmp_path / "report.html").is_file() and any((tmp_path / "plots").iterdir())
    with caplog.at_level("WARNING"):
        assert main(["scan", ".", *flags]) == 0
    assert [Path(p).name for p in read_results(tmp_path)["path"]] == ["p0.png", "p1.png", "p2.png"]
    assert "holds an earlier scan's output; its plots/, report.html not scanned" in caplog.text
    # another output folder: the folder is scanned as it is (its plots measured, its report
    # skipped as not an image, and named in skipped.txt)
    assert main(["scan", ".", "--out", str(tmp_path / "elsewhere"), "--no-progress", "--workers", "0", "--quiet"]) == 0
    assert any(Path(p).parent.name == "plots" for p in read_results(tmp_path / "elsewhere")["path"])
    assert "report.html" in (tmp_path / "elsewhere" / "skipped.txt").read_text()


def test_corpus_measured_in_workers_equals_the_main_process(
    corpus_dir: tuple[Path, list], scanned: tuple[Path, pd.DataFrame]
) -> None:
    """Every corpus file gives the same row and the same findings whether it is decoded and
    measured in a DataLoader worker (only rows cross processes) or in the main process (the
    device path's route on the CPU): bit for bit, failures and their reasons included."""
    from dataeval_gpu.audit.files import scan_files

    d, _ = corpus_dir
    files, labels, names = discover(d)
    with pytest.MonkeyPatch.context() as mp:
        if os.name == "posix" and os.geteuid() == 0:
            mp.setattr(io_mod, "open", emulate_file_permissions(), raising=False)
        in_workers = scan_files(files, labels, class_names=names, batch_size=8, workers=2, progress=False)
        in_main = scan_files(
            files, labels, class_names=names, batch_size=8, workers=2, progress=False, measure_in_workers=False
        )
    assert in_workers.config["measured_in"] == "workers" and in_main.config["measured_in"] == "main process"
    assert in_workers.total == len(files) and len(in_workers.failed) > 5
    pd.testing.assert_frame_equal(in_workers.to_pandas(), in_main.to_pandas(), check_exact=True)
    assert in_workers.findings() == in_main.findings()
