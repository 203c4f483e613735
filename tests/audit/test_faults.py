"""Faults survived: out-of-memory (split and retry), a scan killed part-way (resume),
and determinism (same data, same results, whatever the batching).

* OOM is forced on the CPU through the test hook ``dataeval_gpu.audit._FAULT_INJECTOR``,
  with real allocator failures (an impossible ``torch.empty``) or ``torch.cuda.OutOfMemoryError``;
  a real CUDA OOM under a memory cap is the ``cuda``-marked test (skipped without CUDA).
* The kill test runs the CLI in a subprocess over a few hundred small images with a
  checkpoint after every batch, SIGKILLs it once a checkpoint exists, and resumes.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import dataeval_gpu.audit as audit_mod
from dataeval_gpu.audit import DataAudit, is_out_of_memory
from dataeval_gpu.cli import CHECKPOINT, main

from .test_corpus import SCAN_FLAGS, corpus

ROOT = Path(__file__).resolve().parents[2]


def _real_cpu_oom() -> None:
    """A genuine allocator failure (nothing is allocated: the size is impossible)."""
    torch.empty(1 << 62, dtype=torch.uint8)


def _mixed_images(n: int = 16, seed: int = 0) -> list[np.ndarray]:
    """Real-photo crops (uint8, 1 and 3 channels) mixed with uint16, float (with NaN) and bool."""
    from dataeval_gpu.datasets import photo_collection

    rng = np.random.default_rng(seed)
    photos = photo_collection(n, seed=seed, min_side=9, max_side=64)
    out: list[np.ndarray] = []
    for i, p in enumerate(photos):
        kind = i % 4
        if kind == 1:
            out.append((p.astype(np.uint16) * 257)[:, :20, :20])
        elif kind == 2:
            f = p.astype(np.float32) / 255
            f[0, 0, 0] = np.nan if i % 8 == 2 else f[0, 0, 0]
            out.append(f)
        elif kind == 3 and i % 8 == 3:
            out.append(rng.random((1, 12, 12)) > 0.5)
        else:
            out.append(p)
    return out


def _report(images: list[np.ndarray], batch: int) -> pd.DataFrame:
    audit = DataAudit(hashes=True)
    for k in range(0, len(images), batch):
        audit.update(images[k : k + batch], indices=list(range(k, min(k + batch, len(images)))))
    return audit.compute().to_pandas()


# ----------------------------------------------------------------------------- (a) out of memory


def test_is_out_of_memory_recognises_allocator_failures() -> None:
    with pytest.raises(RuntimeError) as info:
        _real_cpu_oom()
    assert is_out_of_memory(info.value)
    assert is_out_of_memory(torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB"))
    assert is_out_of_memory(MemoryError())
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    assert not is_out_of_memory(ValueError("out of memory"))  # only runtime / memory errors


def test_oom_on_first_attempt_splits_and_equals_smaller_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    images = _mixed_images(16)
    calls: list[int] = []

    def fail_first(n: int) -> None:
        calls.append(n)
        if len(calls) == 1:
            _real_cpu_oom()

    monkeypatch.setattr(audit_mod, "_FAULT_INJECTOR", fail_first)
    split = _report(images, 16)
    assert calls == [16, 8, 8]  # the first attempt failed, the two halves went through
    monkeypatch.setattr(audit_mod, "_FAULT_INJECTOR", None)
    pd.testing.assert_frame_equal(split, _report(images, 8), check_exact=True)
    pd.testing.assert_frame_equal(split, _report(images, 16), check_exact=True)


def test_oom_above_a_capacity_splits_down_to_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every batch above 3 images runs out of memory: 16 → 8 → 4 → 2 then fits."""
    images = _mixed_images(16, seed=1)
    calls: list[int] = []

    def capacity(n: int) -> None:
        calls.append(n)
        if n > 3:
            raise torch.cuda.OutOfMemoryError(f"CUDA out of memory. Tried to allocate {n} GiB (injected)")

    monkeypatch.setattr(audit_mod, "_FAULT_INJECTOR", capacity)
    split = _report(images, 16)
    assert sorted(c for c in calls if c <= 3) == [2] * 8 and max(calls) == 16
    monkeypatch.setattr(audit_mod, "_FAULT_INJECTOR", None)
    pd.testing.assert_frame_equal(split, _report(images, 2), check_exact=True)
    assert split.index.tolist() == list(range(16)) and (split["status"] == "ok").all()


def test_other_errors_are_not_retried_and_leave_no_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def broken(n: int) -> None:
        calls.append(n)
        raise RuntimeError("a bug, not memory")

    audit = DataAudit(hashes=False)
    audit.update([np.zeros((1, 9, 9), np.uint8)], indices=[0])
    monkeypatch.setattr(audit_mod, "_FAULT_INJECTOR", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        audit.update([np.ones((1, 9, 9), np.uint8)] * 4, indices=[1, 2, 3, 4])
    assert calls == [4]
    monkeypatch.setattr(audit_mod, "_FAULT_INJECTOR", None)
    assert audit.compute().index.tolist() == [0]


def test_one_image_that_never_fits_fails_alone_in_a_scan(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """On the CPU a single image that still runs out of memory cannot be split: the scan lists
    it as failed (with the allocator's reason) and measures the others."""
    from PIL import Image

    from dataeval_gpu.accumulators.stats import StatsRows  # the logic of both accumulators

    d = tmp_path / "in"
    d.mkdir()
    for k, side in enumerate((20, 300, 24)):
        Image.fromarray(np.full((side, side), 40 * k + 1, np.uint8)).save(d / f"img{k}.png")
    measure = StatsRows.batch_rows

    def small_memory(self: StatsRows, imgs: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        if any(t.shape[-1] * t.shape[-2] > 200 * 200 for t in imgs):
            _real_cpu_oom()
        return measure(self, imgs)

    monkeypatch.setattr(StatsRows, "batch_rows", small_memory)
    out = tmp_path / "out"
    assert main(["scan", str(d), "--out", str(out), "--workers", "0", *SCAN_FLAGS]) == 0
    df = pd.read_csv(out / "results.csv")
    assert df["status"].tolist() == ["ok", "failed", "ok"]
    assert "can't allocate memory" in df["error"][1]


# ----------------------------------------------------------------------------- (b) kill and resume

_SLOW_SCAN = """
import sys, time
import dataeval_gpu.audit as audit
audit._FAULT_INJECTOR = lambda n: time.sleep(0.04)  # slow each batch down; results unchanged
from dataeval_gpu.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _small_images(d: Path, n: int = 200) -> None:
    from PIL import Image

    from dataeval_gpu.datasets import photo_collection

    d.mkdir(parents=True)
    for k, img in enumerate(photo_collection(n, seed=11, min_side=8, max_side=40)):
        Image.fromarray(img[0] if img.shape[0] == 1 else np.moveaxis(img, 0, -1)).save(d / f"{k:04d}.png")
    (d / "0007.png").write_bytes(b"")  # a bad file among them: it must be listed once too
    (d / "0150.png").write_bytes(b"not a png")


@pytest.mark.integration
def test_killed_scan_resumes_to_identical_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "images"
    _small_images(data)
    n_files = 200
    flags = ["--batch-size", "4", "--checkpoint-every", "1", "--workers", "1", *SCAN_FLAGS]
    killed = tmp_path / "killed"
    log = open(tmp_path / "killed.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-c", _SLOW_SCAN, "scan", str(data), "--out", str(killed), *flags],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the kill takes its DataLoader worker too
    )
    try:
        deadline = time.monotonic() + 180
        while not (killed / CHECKPOINT).exists():
            assert proc.poll() is None, (tmp_path / "killed.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "no checkpoint appeared"
            time.sleep(0.02)
        time.sleep(0.5)  # a few more batches, then the kill lands anywhere in the loop
        assert proc.poll() is None, "the scan finished before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        log.close()
    assert not (killed / "results.csv").exists()
    position = int(torch.load(killed / CHECKPOINT, weights_only=False)["position"])
    assert 0 < position < n_files

    # the checkpoint belongs to this file list: another list is refused (one line, status 2)
    capsys.readouterr()
    assert main(["scan", str(data), "--out", str(killed), "--resume", "--limit", "10", *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dataeval-gpu: error: ") and "different file list" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (killed / "results.csv").exists()

    seen: list[int] = []
    monkeypatch.setattr(audit_mod, "_FAULT_INJECTOR", seen.append)
    # in-process (--workers 0): the hook then counts what is measured in this process
    assert main(["scan", str(data), "--out", str(killed), "--resume", *flags, "--workers", "0"]) == 0
    assert not (killed / CHECKPOINT).exists()  # a finished run removes its checkpoint
    measured_before = position - sum(1 for k in (7, 150) if k < position)
    assert sum(seen) == n_files - 2 - measured_before  # only what was left was measured

    monkeypatch.setattr(audit_mod, "_FAULT_INJECTOR", None)
    whole = tmp_path / "whole"  # uninterrupted (checkpoints do not change results: none here)
    assert main(["scan", str(data), "--out", str(whole), *flags, "--checkpoint-every", "0"]) == 0
    resumed_csv = (killed / "results.csv").read_text()
    assert resumed_csv == (whole / "results.csv").read_text()
    df = pd.read_csv(killed / "results.csv")
    assert len(df) == n_files and df["index"].is_unique and df["path"].is_unique
    assert (df["status"] == "failed").sum() == 2


# ----------------------------------------------------------------------------- (c) determinism


@pytest.fixture(scope="module")
def corpus_and_first_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("det_corpus")
    corpus.write_corpus(d, big=False)
    out = tmp_path_factory.mktemp("det_run1")
    assert main(["scan", str(d), "--out", str(out), "--batch-size", "8", *SCAN_FLAGS]) == 0
    return d, out


def test_two_runs_give_identical_results(corpus_and_first_run: tuple[Path, Path], tmp_path: Path) -> None:
    d, first = corpus_and_first_run
    assert main(["scan", str(d), "--out", str(tmp_path), "--batch-size", "8", *SCAN_FLAGS]) == 0
    for name in ("results.csv", "findings.json", "summary.json"):
        assert (tmp_path / name).read_text() == (first / name).read_text(), name


def test_batching_and_workers_do_not_change_results(
    corpus_and_first_run: tuple[Path, Path], tmp_path: Path
) -> None:
    d, first = corpus_and_first_run
    flags = ["--batch-size", "3", "--workers", "0", *SCAN_FLAGS]
    assert main(["scan", str(d), "--out", str(tmp_path), *flags]) == 0
    assert (tmp_path / "results.csv").read_text() == (first / "results.csv").read_text()


def test_scan_with_forced_oom_equals_plain_scan(
    corpus_and_first_run: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the command: every batch over 2 images runs out of memory on its first attempt."""
    d, first = corpus_and_first_run
    calls: list[int] = []

    def capacity(n: int) -> None:
        calls.append(n)
        if n > 2:
            _real_cpu_oom()

    monkeypatch.setattr(audit_mod, "_FAULT_INJECTOR", capacity)
    assert (
        main(["scan", str(d), "--out", str(tmp_path), "--batch-size", "16", "--workers", "0", *SCAN_FLAGS])
        == 0
    )
    assert max(calls) > 2  # splits happened
    assert (tmp_path / "results.csv").read_text() == (first / "results.csv").read_text()


# ----------------------------------------------------------------------------- (d) a real CUDA OOM


@pytest.mark.cuda
def test_real_cuda_oom_at_a_huge_batch_is_survived(caplog: pytest.LogCaptureFixture) -> None:
    """Under a ~3 GiB cap, a batch of 24 images of 2048 × 2048 × 3 runs out of GPU memory for
    real; the batch is split until it fits and the results equal the CPU's."""
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    dev = torch.device("cuda")
    total = torch.cuda.get_device_properties(dev).total_memory
    rng = np.random.default_rng(5)
    base = rng.integers(0, 256, (3, 2048, 2048), dtype=np.uint8)
    images = [np.roll(base, k, axis=2) for k in range(24)]
    torch.cuda.empty_cache()
    torch.cuda.set_per_process_memory_fraction(min(1.0, 3 * 2**30 / total), torch.cuda.current_device())
    try:
        with caplog.at_level(logging.INFO, logger="dataeval_gpu.audit"):
            gpu = DataAudit(device=dev, hashes=True)
            gpu.update(images, indices=list(range(24)))
            got = gpu.compute()
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0, dev)
        torch.cuda.empty_cache()
    assert "out of memory" in caplog.text  # it really ran out, and split
    cpu = DataAudit(device="cpu", hashes=True)
    for k in range(0, 24, 4):
        cpu.update(images[k : k + 4], indices=list(range(k, k + 4)))
    want = cpu.compute()
    assert got.index.tolist() == want.index.tolist() == list(range(24))
    for key, val in want.stats.items():
        np.testing.assert_allclose(got.stats[key], val, rtol=1e-9, atol=1e-12, err_msg=key)
    assert got.hashes == want.hashes
