"""The duplicate groups a report shows: every group of ``report.duplicates`` (exact, near by hash,
near by embedding), each with the method that found it and its score where it has one.

The scores are recomputed here from what the report holds, for the members of each group only:

* near (hash): the Hamming distance between the near hashes of the whole images
  (``report.hashes``, the near hash's key); a pair matched through a central crop can lie
  beyond the radius on the whole images (said as such in the page);
* near (embedding): the cosine similarity of the two images' embeddings, when the report is
  given them (``write_report(embeddings=...)`` or a report's ``embeddings`` attribute);
* exact: none (identical decoded pixels: the xxhash of the pixels is equal).

Each member's score is to its closest other member of the group (the smallest distance, the
largest cosine): that is the pair which put it in the group.  Group numbers are the positions
in ``report.duplicates[kind]``: the ``<kind>_duplicate_group`` column of ``results.csv``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "KINDS",
    "METHODS",
    "DuplicateGroup",
    "cosine_nearest",
    "embedding_rows",
    "hamming_nearest",
    "report_groups",
]

#: the kinds of duplicate group, in the order the report shows them
KINDS = ("exact", "near", "embedding")
#: how each kind was found, as the page names it
METHODS = {"exact": "exact", "near": "near (hash)", "embedding": "near (embedding)"}
#: each kind's score: its name, and its name for a range of values
SCORES = {"near": ("Hamming distance", "Hamming distances"), "embedding": ("cosine similarity", "cosine similarities")}
#: members of one group whose pair scores are computed (a larger group: the first ones)
MAX_SCORED = 256


@dataclass(frozen=True)
class DuplicateGroup:
    """One duplicate group: its kind, its number (``results.csv``), its members (sorted dataset
    indices) and each member's score to its closest other member (``{}``: no score)."""

    kind: str
    group: int
    members: tuple[int, ...]
    nearest: dict[int, float] = field(default_factory=dict)

    @property
    def method(self) -> str:
        return METHODS.get(self.kind, self.kind)

    @property
    def score_name(self) -> str:
        return SCORES[self.kind][0] if self.kind in SCORES else ""

    def score_range(self) -> tuple[float, float] | None:
        """The members' scores, lowest and highest; None without scores."""
        if not self.nearest:
            return None
        values = list(self.nearest.values())
        return min(values), max(values)

    def score_text(self) -> str:
        """``"Hamming distance 2"``, ``"cosine similarities 0.9510–0.9930"`` (the members' lowest and
        highest), ``"identical pixels"``, or ``""``."""
        if self.kind == "exact":
            return "identical pixels"
        rng = self.score_range()
        if rng is None:
            return ""
        lo, hi = (format_score(self.kind, v) for v in rng)
        return f"{self.score_name} {lo}" if lo == hi else f"{SCORES[self.kind][1]} {lo}–{hi}"

    def member_text(self, index: int) -> str:
        """A member's score as its cell in the page shows it: ``"d 2"``, ``"cos 0.981"``, or ``""``."""
        if index not in self.nearest:
            return ""
        return ("d " if self.kind == "near" else "cos ") + format_score(self.kind, self.nearest[index])


def format_score(kind: str, value: float) -> str:
    """A Hamming distance as a whole number, a cosine with 4 decimals."""
    return str(int(round(value))) if kind == "near" else f"{value:.4f}"


def hamming_nearest(members: Sequence[int], hashes: Mapping[int, int]) -> dict[int, float]:
    """Each member's smallest Hamming distance to another member (members without a hash left out)."""
    have = [int(i) for i in members[:MAX_SCORED] if int(i) in hashes]
    if len(have) < 2:
        return {}
    h = np.array([hashes[i] for i in have], dtype=np.uint64)
    d = np.bitwise_count(h[:, None] ^ h[None, :]).astype(np.float64)
    np.fill_diagonal(d, np.inf)
    return dict(zip(have, d.min(axis=1).tolist(), strict=True))


def cosine_nearest(members: Sequence[int], rows: Mapping[int, np.ndarray]) -> dict[int, float]:
    """Each member's largest cosine similarity to another member (float64; members without a
    finite embedding left out)."""
    have = [int(i) for i in members[:MAX_SCORED] if int(i) in rows]
    if len(have) < 2:
        return {}
    x = np.stack([np.asarray(rows[i], dtype=np.float64).reshape(-1) for i in have])
    norms = np.linalg.norm(x, axis=1)
    ok = np.isfinite(x).all(axis=1) & (norms > 0)
    have, x = [i for i, k in zip(have, ok, strict=True) if k], x[ok] / norms[ok, None]
    if len(have) < 2:
        return {}
    c = np.clip(x @ x.T, -1.0, 1.0)
    np.fill_diagonal(c, -np.inf)
    return dict(zip(have, c.max(axis=1).tolist(), strict=True))


def _near_hashes(report: Any, wanted: Iterable[int]) -> dict[int, int]:
    """``{index: near hash as an unsigned int}`` of the ``wanted`` images that have one."""
    hashes = getattr(report, "hashes", None) or {}
    key = next((k for k in hashes if k != "xxhash"), None)
    if key is None:
        return {}
    pos = {int(i): k for k, i in enumerate(np.asarray(report.index).tolist())}
    out = {}
    for i in wanted:
        k = pos.get(int(i))
        text = hashes[key][k] if k is not None and k < len(hashes[key]) else ""
        if text:
            out[int(i)] = int(text, 16)
    return out


def embedding_rows(
    embeddings: Any, report: Any = None, wanted: Iterable[int] | None = None
) -> dict[int, np.ndarray] | None:
    """The embeddings as ``{dataset index: row}`` (only the ``wanted`` indices, when given): from
    ``(indices, rows)``, a mapping, or an ``(N, D)`` array of one row per measured image
    (``report.index``'s order); None for None.  A row count that fits no image list is an error
    naming both counts."""
    if embeddings is None:
        return None
    keep = None if wanted is None else {int(i) for i in wanted}
    if isinstance(embeddings, Mapping):
        return {int(i): np.asarray(v) for i, v in embeddings.items() if keep is None or int(i) in keep}
    if isinstance(embeddings, tuple) and len(embeddings) == 2:
        idx, rows = (np.asarray(_numpy(x)) for x in embeddings)
    else:
        rows = np.asarray(_numpy(embeddings))
        idx = np.asarray(getattr(report, "index", np.arange(len(rows))))
    if rows.ndim != 2 or len(idx) != len(rows):
        raise ValueError(
            f"embeddings: expected {len(idx)} rows (one per dataset index), got an array of shape {rows.shape}"
        )
    return {int(i): rows[k] for k, i in enumerate(idx.reshape(-1).tolist()) if keep is None or int(i) in keep}


def _numpy(x: Any) -> Any:
    return x.detach().cpu().numpy() if hasattr(x, "detach") else x


def report_groups(report: Any, embeddings: Mapping[int, np.ndarray] | None = None) -> list[DuplicateGroup]:
    """Every duplicate group of ``report`` (exact, then near, then embedding), with its scores."""
    dups = getattr(report, "duplicates", None) or {}
    near = [sorted(int(i) for i in g) for g in dups.get("near", [])]
    hashes = _near_hashes(report, {i for g in near for i in g[:MAX_SCORED]}) if near else {}
    out = []
    for kind in KINDS:
        for n, g in enumerate(dups.get(kind, [])):
            members = sorted(int(i) for i in g)
            if kind == "near":
                nearest = hamming_nearest(members, hashes)
            elif kind == "embedding" and embeddings is not None:
                nearest = cosine_nearest(members, embeddings)
            else:
                nearest = {}
            out.append(DuplicateGroup(kind, n, tuple(members), nearest))
    return out
