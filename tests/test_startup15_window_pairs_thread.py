"""The pair stage after the scan (startup15, issue 14's start to exit): the off-centre crops'
search runs in a thread beside the window views' search (`window_pairs`), with the same pairs as
the two run one after the other, and an error in the thread raised to the caller."""

from __future__ import annotations

import threading
from concurrent.futures import Future

import numpy as np
import pytest
import torch

from dataeval_gpu.detectors import NearDuplicates, window_pairs

skdata = pytest.importorskip("skimage.data")


def _crop(a: np.ndarray, keep: float, fy: float, fx: float) -> np.ndarray:
    h, w = a.shape[:2]
    ch, cw = round(h * keep), round(w * keep)
    y0, x0 = round((h - ch) * fy), round((w - cw) * fx)
    return np.ascontiguousarray(a[y0 : y0 + ch, x0 : x0 + cw])


@pytest.fixture(scope="module")
def images() -> tuple[list[str], list[torch.Tensor]]:
    names = ("astronaut", "chelsea", "coffee", "rocket")
    pics = {n: np.ascontiguousarray(getattr(skdata, n)()[..., :3]) for n in names}
    # off the centre: found by the thread's search; a 90 % window in a corner: by the views'
    pics["astronaut_crop80"] = _crop(pics["astronaut"], 0.8, 0.63, 0.12)
    pics["coffee_flip_crop70"] = np.ascontiguousarray(_crop(pics["coffee"], 0.7, 0.2, 0.9)[:, ::-1])
    pics["rocket_window90"] = _crop(pics["rocket"], 0.9, 0.0, 1.0)
    return list(pics), [torch.from_numpy(v).permute(2, 0, 1) for v in pics.values()]


class _Inline:
    """A one-thread executor that runs each task at once in the caller's thread."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def __enter__(self) -> _Inline:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def submit(self, fn, *args):  # noqa: ANN001, ANN002, ANN202
        done: Future = Future()
        try:
            done.set_result(fn(*args))
        except Exception as exc:  # noqa: BLE001 - as a pool's future holds it
            done.set_exception(exc)
        return done


def _groups(names: list[str], images: list[torch.Tensor]) -> list[list[str]]:
    return sorted(sorted(names[i] for i in g) for g in NearDuplicates().evaluate(images).hash)


def test_the_off_centre_search_runs_in_its_thread_with_the_same_pairs(images, monkeypatch) -> None:  # noqa: ANN001
    names, tensors = images
    seen: list[str] = []
    real_busy = window_pairs.busy_share

    def busy(t, **kw):  # noqa: ANN001, ANN003, ANN202 - the off-centre search's first step (rows=: mem17)
        seen.append(threading.current_thread().name)
        return real_busy(t, **kw)

    monkeypatch.setattr(window_pairs, "busy_share", busy)
    threaded = _groups(names, tensors)
    assert seen and all(s.startswith("dataeval-gpu-offcentre") for s in seen), seen
    assert ["astronaut", "astronaut_crop80"] in threaded and ["coffee", "coffee_flip_crop70"] in threaded
    assert ["rocket", "rocket_window90"] in threaded
    seen.clear()
    monkeypatch.setattr(window_pairs, "ThreadPoolExecutor", _Inline)
    assert _groups(names, tensors) == threaded  # one after the other: the same groups
    assert seen == [threading.current_thread().name]


def test_an_error_in_the_off_centre_thread_reaches_the_caller(images, monkeypatch) -> None:  # noqa: ANN001
    def fail(t, **kw):  # noqa: ANN001, ANN003, ANN202
        raise MemoryError("grid hashes")

    monkeypatch.setattr(window_pairs, "grid_hashes", fail)
    with pytest.raises(MemoryError, match="grid hashes"):
        NearDuplicates().evaluate(images[1])
