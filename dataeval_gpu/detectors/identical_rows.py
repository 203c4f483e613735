"""Images whose hash rows are identical, searched once: the near-duplicate pair searches of
:func:`~.near_duplicates.hash_groups` grow with the square of a group of identical images
(500 copies of one placeholder: ~125,000 candidate pairs in every search), while every pair
rule reads only the rows (hashes, thumbnails, figures).  :func:`identical_classes` finds the
images whose rows are byte for byte the same (a digest of each row, then each row compared with
its class's first), :func:`kept_rows` keeps at most two images of each class (the pair of the two
says whether copies of that row pair with each other; each of them says whether the row pairs
with every other class), and :func:`class_centre_groups` runs the centre rule of
:func:`~.near_duplicates.hash_groups` on the classes, weighted by their sizes: the same groups
as the centre rule on the pairs of every image, without listing those pairs.  Where the pairs
themselves are wanted (``audit.stat_findings.near_hash_pairs``), :func:`class_pairs` lists those of
every image from the classes' by index arithmetic (no loop over pairs)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

__all__ = ["ROWS_PER_STEP", "class_centre_groups", "class_pairs", "identical_classes", "kept_rows", "take_rows"]

#: rows read at a time when digesting and comparing them (bounded memory: a row is ~3.5 KB)
ROWS_PER_STEP = 4096
#: a row of at most this many bytes is digested for every image; a wider one (thumbnails) only for
#: the images whose narrow rows (hashes, figures) repeat
NARROW_BYTES = 256
#: the digest's two random odd 64-bit weights per 8-byte word are drawn from this seed
_SEED = 20261208


def _as_numpy(v: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Rows ``idx`` of ``v`` (an ``(n, ...)`` array) as a ``(len(idx), bytes)`` uint8 matrix."""
    r = np.ascontiguousarray(v[idx]).reshape(idx.size, -1)
    return r.view(np.uint8).reshape(idx.size, -1)


def _row_bytes(arrays: Sequence[Any], idx: np.ndarray) -> np.ndarray:
    """``(len(idx), W)`` uint8: the bytes of every array's rows ``idx`` side by side, ``W`` a multiple of 8."""
    parts = [_as_numpy(v, idx) for v in arrays if v is not None]
    width = sum(p.shape[1] for p in parts)
    out = np.zeros((idx.size, -(-width // 8) * 8), dtype=np.uint8)
    at = 0
    for p in parts:
        out[:, at : at + p.shape[1]] = p
        at += p.shape[1]
    return out


def _width(v: np.ndarray, n: int) -> int:
    """Bytes of one row of ``v`` (``n`` rows)."""
    return int(v.nbytes // max(n, 1))


def _digest(arrays: Sequence[Any], rows: np.ndarray) -> np.ndarray:
    """``(len(rows), 2)`` uint64: a digest of each of ``rows``' bytes (random odd weights per
    8-byte word, summed modulo 2^64), :data:`ROWS_PER_STEP` rows at a time."""
    out = np.zeros((rows.size, 2), dtype=np.uint64)
    weights = None
    for s in range(0, rows.size, ROWS_PER_STEP):
        words = _row_bytes(arrays, rows[s : s + ROWS_PER_STEP]).view(np.uint64)
        if weights is None:
            rng = np.random.default_rng(_SEED)
            weights = rng.integers(0, 2**63, size=(2, words.shape[1]), dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        with np.errstate(over="ignore"):
            out[s : s + words.shape[0]] = np.stack([(words * w).sum(axis=1, dtype=np.uint64) for w in weights], 1)
    return out


def _unique_labels(digest: np.ndarray) -> np.ndarray:
    """``(P,)`` uint64 labels of the distinct rows of a ``(P, 2)`` uint64 digest."""
    _, label = np.unique(digest.view(np.dtype((np.void, 16))).reshape(-1), return_inverse=True)
    return label.reshape(-1).astype(np.uint64)


def identical_classes(arrays: Sequence[Any], n: int) -> np.ndarray:
    """``(n,)`` int64 class labels, ``0 .. C-1`` in the order of each class's first image: images
    ``i`` and ``j`` share a label exactly when every array of ``arrays`` (``None`` skipped; row
    ``i`` for image ``i``) holds the same bytes in rows ``i`` and ``j``.  A two-word digest of
    each image's narrow rows (:data:`NARROW_BYTES`) and, where those repeat, of its wide ones
    groups them; each row is then compared byte for byte with its class's first (a digest
    collision is given a class of its own)."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    arrays = [np.asarray(v.cpu()) if isinstance(v, torch.Tensor) else np.asarray(v) for v in arrays if v is not None]
    # the narrow rows (hashes, figures) first; the wide ones (thumbnails) only where those repeat
    narrow = [v for v in arrays if _width(v, n) <= NARROW_BYTES]
    wide = [v for v in arrays if _width(v, n) > NARROW_BYTES]
    key = np.zeros((n, 3), dtype=np.uint64)
    key[:, 0] = _unique_labels(_digest(narrow, np.arange(n)))
    twice = np.nonzero(np.bincount(key[:, 0].astype(np.int64))[key[:, 0].astype(np.int64)] > 1)[0]
    if wide and twice.size:
        key[twice, 1:] = _digest(wide, twice)
    _, first, label = np.unique(key.view(np.dtype((np.void, 24))).reshape(n), return_index=True, return_inverse=True)
    label = label.reshape(n).astype(np.int64)
    # each row against its class's first, byte for byte (a collision: a class of its own)
    first_of = first[label]
    to_check = np.nonzero(first_of != np.arange(n))[0]
    apart = []
    for s in range(0, to_check.size, ROWS_PER_STEP):
        c = to_check[s : s + ROWS_PER_STEP]
        same = (_row_bytes(arrays, c) == _row_bytes(arrays, first_of[c])).all(axis=1)
        apart.append(c[~same])
    apart_rows = np.concatenate(apart) if apart else np.zeros(0, dtype=np.int64)
    label[apart_rows] = label.max() + 1 + np.arange(apart_rows.size)
    # number the classes by their first image
    _, first, label = np.unique(label, return_index=True, return_inverse=True)
    rank = np.empty(first.size, dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(first.size)
    return rank[label.reshape(n)]


def kept_rows(label: np.ndarray) -> np.ndarray:
    """Ascending indices of the first two images of each class (all of a class of one or two)."""
    order = np.argsort(label, kind="stable")
    counts = np.bincount(label)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(label.size) - starts[label[order]]
    return np.sort(order[rank < 2])


def take_rows(v: Any, idx: np.ndarray) -> Any:
    """Rows ``idx`` of a per-image array or tensor (``None`` stays ``None``)."""
    if v is None:
        return None
    if isinstance(v, torch.Tensor):
        return v[torch.as_tensor(idx, device=v.device)]
    return np.asarray(v)[idx]


def class_centre_groups(label: np.ndarray, kept: np.ndarray, pairs: np.ndarray) -> list[list[int]]:
    """The centre rule (:func:`~.near_duplicates.hash_groups`: by descending degree, ties by the
    lowest index, an unassigned image becomes a centre and takes its unassigned neighbours) on
    the pairs of all ``label.size`` images, from ``pairs``, ``(P, 2)`` indices into ``kept``
    (:func:`kept_rows`) found among the kept images alone: two images of different classes pair
    when some kept images of their classes do, two of one class when its two kept images do.
    The images of a class have one degree and one neighbourhood, so a class is taken whole (a
    class whose copies do not pair: its first image as a centre, the others never)."""
    if pairs.size == 0:
        return []
    size = np.bincount(label)
    c = size.size
    ca, cb = label[kept[pairs[:, 0]]], label[kept[pairs[:, 1]]]
    loop = np.zeros(c, dtype=bool)
    loop[ca[ca == cb]] = True
    other = ca != cb
    key = np.unique(np.concatenate([ca[other] * c + cb[other], cb[other] * c + ca[other]]))
    a, b = key // c, key % c
    deg = np.bincount(a, weights=size[b], minlength=c).astype(np.int64) + np.where(loop, size - 1, 0)
    bounds = np.concatenate([[0], np.cumsum(np.bincount(a, minlength=c))])
    order_img = np.argsort(label, kind="stable")
    img_at = np.concatenate([[0], np.cumsum(size)])
    members = lambda k: order_img[img_at[k] : img_at[k + 1]]  # noqa: E731 # ascending: a stable sort
    first = order_img[img_at[:-1]]
    assigned = np.zeros(c, dtype=bool)
    groups: list[list[int]] = []
    for k in np.lexsort((first, -deg)):
        if deg[k] == 0:
            break
        if assigned[k]:
            continue
        nb = b[bounds[k] : bounds[k + 1]]
        nb = nb[~assigned[nb]]
        if nb.size == 0 and not loop[k]:
            continue
        own = members(k) if loop[k] else first[k : k + 1]
        assigned[k] = True
        assigned[nb] = True
        group = np.concatenate([own, *(members(j) for j in nb)])
        groups.append(np.sort(group).tolist())
    return sorted(groups)


def class_pairs(label: np.ndarray, kept: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """``(P, 2)`` int64 ``[i, j]`` (``i < j``, sorted, unique): the pairs of all ``label.size``
    images from ``pairs``, ``(P', 2)`` indices into ``kept`` (:func:`kept_rows`) found among the
    kept images alone, as :func:`class_centre_groups` reads them: every image of a class with every
    image of a class it pairs with, and every two images of a class whose two kept images pair.
    Built by index arithmetic, one triangle per class size and one product per pair of classes (no
    loop over pairs): a class of ``m`` copies that pair gives ``m (m - 1) / 2`` rows."""
    empty = np.zeros((0, 2), dtype=np.int64)
    if pairs.size == 0:
        return empty
    label = np.asarray(label, dtype=np.int64)
    size = np.bincount(label)
    c = size.size
    ca, cb = label[kept[pairs[:, 0]]], label[kept[pairs[:, 1]]]
    order_img = np.argsort(label, kind="stable")  # each class's images, ascending, from img_at[k]
    img_at = np.concatenate([[0], np.cumsum(size)])
    parts = [empty]
    loop = np.unique(ca[ca == cb])  # classes whose copies pair with each other
    for m in np.unique(size[loop]):  # one triangle for every class of m copies
        u, v = np.triu_indices(int(m), 1)
        base = img_at[loop[size[loop] == m]].reshape(-1, 1)
        parts.append(np.stack([order_img[base + u].reshape(-1), order_img[base + v].reshape(-1)], axis=1))
    other = ca != cb
    key = np.unique(np.minimum(ca[other], cb[other]) * c + np.maximum(ca[other], cb[other]))
    a, b = key // c, key % c  # two classes that pair: every image of one with every image of the other
    count = size[a] * size[b]
    which = np.repeat(np.arange(a.size), count)
    k = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
    first = order_img[img_at[a][which] + k // size[b][which]]
    second = order_img[img_at[b][which] + k % size[b][which]]
    parts.append(np.stack([first, second], axis=1))
    out = np.sort(np.concatenate(parts), axis=1)
    return out[np.lexsort((out[:, 1], out[:, 0]))]
