"""``occupancy`` as a registry quality metric: the compiled and torch paths give the reference's
value bit for bit, and the scan flags ``low_information`` as ``QualityIssues`` does."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from dataeval_gpu.detectors.quality import OPTIONAL_KEYS, QualityIssues
from dataeval_gpu.functional import quality_compiled
from dataeval_gpu.functional.quality import QUALITY_KEYS, quality_metrics, quality_metrics_stacks

from .test_quality_occupancy import occupancy_ref


def _strokes(shape: tuple[int, int, int], seed: int) -> np.ndarray:
    """A dark ground with a few strokes of random contrast (some under the step), odd sizes."""
    rng = np.random.default_rng(seed)
    c, h, w = shape
    img = np.full(shape, 20, np.uint8)
    for _ in range(6):
        y, x0 = rng.integers(0, h), rng.integers(0, w)
        img[:, y, x0 : x0 + w // 3] = rng.integers(30, 256, size=(c, 1))
        img[:, y : y + h // 4, x0] = rng.integers(30, 256, size=(c, 1))
    if c in (2, 4):
        img[-1] = 255
        img[-1, : h // 3, : w // 3] = 0  # transparent: mid grey over the dark ground
    return img


SHAPES = [(3, 61, 83), (1, 40, 30), (1, 10, 7), (3, 500, 430), (4, 90, 120), (2, 64, 64), (3, 1, 1), (3, 3, 5)]


@pytest.mark.skipif(not quality_compiled.ready(), reason="numba kernels unavailable")
def test_compiled_and_torch_paths_equal_the_reference(monkeypatch) -> None:
    """8-bit stacks: the numba kernel (CPU) and the torch code (what CUDA runs, forced here on
    CPU tensors) give the float64 reference's value, equal bit for bit (float32 of count / cells)."""
    assert "occupancy" in QUALITY_KEYS and "occupancy" in OPTIONAL_KEYS
    stacks = [torch.from_numpy(np.stack([_strokes(s, k), _strokes(s, k + 50)])) for k, s in enumerate(SHAPES)]
    want = [np.float32(occupancy_ref(img.numpy())) for x in stacks for img in x]
    compiled = quality_metrics_stacks(stacks)["occupancy"]
    monkeypatch.setattr(quality_compiled.ready, "state", False)  # the torch path on the CPU
    torch_path = torch.cat([quality_metrics_stacks([x])["occupancy"] for x in stacks])
    assert compiled.dtype == torch_path.dtype == torch.float32
    assert compiled.tolist() == torch_path.tolist() == [float(v) for v in want]
    assert 0 < sum(v > 0 for v in want) < len(want)  # neither all empty nor all occupied


def test_float_images_read_as_their_8_bit_form() -> None:
    """A float image in [0, 1] (the torch path) reads as its uint8 form."""
    u8 = _strokes((3, 48, 40), 3)
    got = quality_metrics([torch.from_numpy(u8), torch.from_numpy(u8.astype(np.float32) / 255.0)])["occupancy"]
    assert got.tolist() == [np.float32(occupancy_ref(u8))] * 2


def _drawings(folder) -> list[np.ndarray]:
    """Drawings on black (thin faint lines across the frame: low grey entropy, little detail), a
    small dot on black, a constant image and two noise photos, saved as PNGs."""
    from PIL import Image

    folder.mkdir()
    imgs = []
    for k in range(4):
        d = np.zeros((256, 320, 3), np.uint8)
        d[40 + 40 * k, :, :] = 90
        d[:, 60 + 50 * k, :] = 90
        imgs.append(d)
    dot = np.zeros((256, 320, 3), np.uint8)
    dot[120:123, 150:153] = 90
    rng = np.random.default_rng(0)
    imgs += [dot, np.full((256, 320, 3), 40, np.uint8)]
    imgs += [rng.integers(0, 256, (256, 320, 3), dtype=np.uint8) for _ in range(2)]
    for i, im in enumerate(imgs):
        Image.fromarray(im).save(folder / f"im{i}.png")
    return [im.transpose(2, 0, 1) for im in imgs]


def test_the_scan_flags_low_information_as_quality_issues_does(tmp_path, capsys) -> None:
    """The scan gathers the metrics through the registry: it read no ``occupancy`` and flagged
    the drawings ``low_information`` where ``QualityIssues`` did not (two answers for one image).
    Now results.csv has the column and the same flags."""
    from dataeval_gpu.cli import main

    imgs = _drawings(tmp_path / "images")
    direct = QualityIssues().evaluate(imgs)
    assert direct.flags["low_information"].tolist() == [False] * 4 + [True, True, False, False]
    status = main(["scan", str(tmp_path / "images"), "--out", str(tmp_path / "o"), "--no-plots", "--no-progress", "--workers", "0"])
    assert status == 0, capsys.readouterr().err
    with open(tmp_path / "o" / "results.csv", newline="") as f:
        rows = sorted(csv.DictReader(f), key=lambda r: int(r["path"].rsplit("im", 1)[1].split(".")[0]))
    assert [float(r["occupancy"]) for r in rows] == pytest.approx(direct.metrics["occupancy"].tolist(), abs=1e-7)
    assert [r["is_low_information_issue"] == "True" for r in rows] == direct.flags["low_information"].tolist()


def test_an_index_written_before_occupancy_is_refused_with_rebuild_it(tmp_path) -> None:
    """An index whose metric list lacks ``occupancy`` (and whose digest is another version's) is
    refused by ``report()``, ``--against`` and an update, with the "rebuild it" advice."""
    import json

    import pyarrow.parquet as pq

    from dataeval_gpu.audit import DataAudit
    from dataeval_gpu.index import DatasetIndex, IndexMismatchError, against_index, save_index

    audit = DataAudit(device="cpu")
    audit.update(torch.randint(0, 256, (4, 3, 40, 40), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)))
    folder = tmp_path / "idx"
    save_index(audit, folder)
    doc = json.loads((folder / "manifest.json").read_text())
    assert "occupancy" in doc["settings"]["metrics"]
    doc["settings"]["metrics"] = [m for m in doc["settings"]["metrics"] if m != "occupancy"]
    doc["settings"]["metric_digest"] = "0" * 32
    rows = folder / doc["files"]["rows"]
    pq.write_table(pq.read_table(rows).drop(["occupancy"]), rows)
    (folder / "manifest.json").write_text(json.dumps(doc))
    index = DatasetIndex(folder)
    for refused in (lambda: index.report(), lambda: against_index(audit, index), lambda: save_index(audit, folder)):
        with pytest.raises(IndexMismatchError) as err:
            refused()
        said = str(err.value)
        assert "only this run has ['occupancy']" in said and "rebuild it (scan its files again" in said


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_registry_values_equal_the_compiled_cpu_ones() -> None:
    """On a GPU the registry's torch path gives the CPU kernel's values bit for bit."""
    stacks = [torch.from_numpy(np.stack([_strokes(s, k)])) for k, s in enumerate(SHAPES)]
    cpu = quality_metrics_stacks(stacks)["occupancy"]
    gpu = torch.cat([quality_metrics_stacks([x.cuda()])["occupancy"].cpu() for x in stacks])
    assert gpu.tolist() == cpu.tolist()
