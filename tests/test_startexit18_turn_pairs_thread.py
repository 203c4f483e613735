"""The pair stage after the scan (startexit18, issue 14's start to exit): the turned copies' search
(`turn_pairs`) runs in a thread beside the window views' and off-centre crops' search
(`window_pairs`), which asks for the pairs known before it only after its hashes (`known` may be a
callable): the same groups as the searches one after the other, an error in the thread raised to
the caller, and numpy's BLAS at one thread for both (its second thread only spun)."""

from __future__ import annotations

import threading
from concurrent.futures import Future

import numpy as np
import pytest
import torch

from dataeval_gpu.detectors import NearDuplicates, hash_pairs, turn_pairs, window_pairs

skdata = pytest.importorskip("skimage.data")


def _crop(a: np.ndarray, keep: float, fy: float, fx: float) -> np.ndarray:
    h, w = a.shape[:2]
    ch, cw = round(h * keep), round(w * keep)
    y0, x0 = round((h - ch) * fy), round((w - cw) * fx)
    return np.ascontiguousarray(a[y0 : y0 + ch, x0 : x0 + cw])


@pytest.fixture(scope="module")
def images() -> tuple[list[str], list[torch.Tensor]]:
    names = ("astronaut", "chelsea", "coffee", "rocket", "camera")
    pics = {n: np.ascontiguousarray(getattr(skdata, n)()) for n in names}
    pics = {n: (np.stack([v] * 3, axis=-1) if v.ndim == 2 else v[..., :3]) for n, v in pics.items()}
    pics["astronaut_crop80"] = _crop(pics["astronaut"], 0.8, 0.63, 0.12)  # the off-centre search's
    pics["rocket_window90"] = _crop(pics["rocket"], 0.9, 0.0, 1.0)  # the views'
    pics["chelsea_turned"] = np.ascontiguousarray(np.rot90(pics["chelsea"]))  # one of its 8 turns
    pics["camera_mirror"] = np.ascontiguousarray(pics["camera"][:, ::-1])
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


def test_the_turned_copies_search_runs_in_its_thread_with_the_same_groups(images, monkeypatch) -> None:  # noqa: ANN001
    names, tensors = images
    seen: list[str] = []
    real = turn_pairs.turn_candidates

    def candidates(*a):  # noqa: ANN002, ANN202 - turn_pairs' first step
        seen.append(threading.current_thread().name)
        return real(*a)

    monkeypatch.setattr(turn_pairs, "turn_candidates", candidates)
    threaded = _groups(names, tensors)
    assert seen and all(s.startswith("dataeval-gpu-turns") for s in seen), seen
    for pair in (["astronaut", "astronaut_crop80"], ["rocket", "rocket_window90"]):
        assert pair in threaded, threaded
    assert any({"chelsea", "chelsea_turned"} <= set(g) for g in threaded), threaded
    assert any({"camera", "camera_mirror"} <= set(g) for g in threaded), threaded
    seen.clear()
    monkeypatch.setattr(hash_pairs, "ThreadPoolExecutor", _Inline)  # one after the other
    monkeypatch.setattr(window_pairs, "ThreadPoolExecutor", _Inline)
    assert _groups(names, tensors) == threaded
    assert seen == [threading.current_thread().name]


def test_the_window_search_asks_for_the_known_pairs_after_its_hashes(images, monkeypatch) -> None:  # noqa: ANN001
    """window_pairs with ``known`` as a callable: the same pairs as with the array it returns,
    and the callable asked only once the views' hashes exist (the turns' thread runs meanwhile)."""
    names, tensors = images
    calls: list[tuple] = []
    real = window_pairs.window_pairs

    def spy(*a):  # noqa: ANN002, ANN202
        calls.append(a)
        return real(*a)

    monkeypatch.setattr(window_pairs, "window_pairs", spy)
    _groups(names, tensors)
    assert len(calls) == 1
    full, valid, thumbs, hw, figs, radius, known, facts = calls[0]
    assert callable(known)  # hash_pairs hands over the pairs still being found
    pairs = np.asarray(known())
    order: list[str] = []

    def noted(name: str):  # noqa: ANN202
        real_hashes = getattr(window_pairs, name)

        def hashed(*a, **kw):  # noqa: ANN002, ANN003, ANN202
            order.append(name)
            return real_hashes(*a, **kw)

        return hashed

    for name in ("view_hashes", "grid_hashes"):  # the views' search's hashes, the off-centre search's
        monkeypatch.setattr(window_pairs, name, noted(name))

    def asked() -> np.ndarray:
        order.append("known")
        return pairs

    monkeypatch.setattr(window_pairs, "ThreadPoolExecutor", _Inline)  # a fixed order to look at
    lazy = real(full, valid, thumbs, hw, figs, radius, asked, {})
    eager = real(full, valid, thumbs, hw, figs, radius, pairs, {})
    np.testing.assert_array_equal(lazy, eager)
    assert lazy.size  # the crop and the window are found beside the known pairs
    # inline, the off-centre search runs first: each search asks once it has its own hashes
    assert order[:4] == ["grid_hashes", "known", "view_hashes", "known"], order


def test_an_error_in_the_turns_thread_reaches_the_caller(images, monkeypatch) -> None:  # noqa: ANN001
    def fail(*a):  # noqa: ANN002, ANN202
        raise MemoryError("turn hashes")

    monkeypatch.setattr(turn_pairs, "turn_candidates", fail)
    with pytest.raises(MemoryError, match="turn hashes"):
        NearDuplicates().evaluate(images[1])
