"""The near-duplicate hash search's two parameter objects, each built once and passed down the
layers of the search (:func:`~.near_duplicates.search_groups` -> :func:`~.near_duplicates.hash_search`
-> :func:`~.hash_pairs.search_pairs` -> :func:`~.turn_pairs.turn_pairs`,
:func:`~.window_pairs.window_pairs`, :func:`~.scale_pairs.scale_pairs`), so that a new option or
a new per-image figure is one field here, not an edit to every signature on the way:

- :class:`NearSearch`, the settings a user chooses (the Hamming radius, whether the window views,
  turns and off-centre crops are searched, whether identical rows are searched once, the pairs'
  progress bar), built where the options are parsed: :class:`~dataeval_gpu.audit.DataAudit`
  (``near_search``, from ``near_radius``, ``hash`` and ``d4``: what the CLI, torchrun and the
  Lightning callback pass it) and :class:`~.near_duplicates.NearDuplicates` (``search``);
- :class:`HashRows`, the per-image rows the search reads (the hashes, the crops' and the strip's
  hashes, the figures of the pair rules, the thumbnails), built where the rows are at hand: from
  the accumulated rows (:func:`~dataeval_gpu.audit.stat_findings.hash_rows`) or from the images
  (:meth:`~.near_duplicates.NearDuplicates.evaluate`).

Example:
    >>> import torch
    >>> rows = HashRows(torch.tensor([0, 1, 3]), torch.ones(3, dtype=torch.bool))
    >>> rows.take(np.array([0, 2])).full.tolist()
    [0, 3]
    >>> NearSearch.for_hash(4, "pchash_d4")
    NearSearch(radius=4, windows=True, collapse=True, progress=None)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .hash_figures import PairFigures
from .identical_rows import take_rows

__all__ = ["HashRows", "NearSearch"]


@dataclass(frozen=True)
class NearSearch:
    """The settings of the near-duplicate hash search.

    Args:
        radius: Hamming radius of the near hash (0..64).
        windows: the hashes are D4 pchashes: also search a copy whose D4 hash took another of
            its 8 turns, window views (a 90 % window, a small turn), off-centre crops and pictures
            in bars (:func:`~.turn_pairs.turn_pairs`, :func:`~.window_pairs.window_pairs`).
        collapse: images whose rows are identical are searched as at most two
            (:mod:`.identical_rows`: the same groups); False searches every image.
        progress: the pair checks' bar when the pairs are many (None: on a terminal).
    """

    radius: int
    windows: bool = False
    collapse: bool = True
    progress: bool | None = None

    @classmethod
    def for_hash(cls, radius: int, kind: str, **settings: Any) -> NearSearch:
        """The settings for near hashes of ``kind`` (:func:`~dataeval_gpu.functional.hashing.near_kind`'s
        name): the window search where it is ``"pchash_d4"``."""
        return cls(int(radius), windows=kind == "pchash_d4", **settings)


@dataclass(frozen=True)
class HashRows:
    """The per-image rows of the near-duplicate hash search, row ``i`` for image ``i``.

    ``full``, ``valid``: ``(N,)`` int64 near hashes and whether each was computed; ``crops``: the
    ``(hashes, valid)`` of each central crop fraction; ``strip``: ``(hashes, valid, thumbnails)`` of
    each image's inverse-shape strip (:func:`~dataeval_gpu.accumulators.hash_rows.strip_hashes`);
    ``hw``: ``(N, 2)`` heights and widths; ``thumbs``: the grey thumbnails of each image's views
    (whole, then its crops), ``(N, V, S, S)`` uint8 or those rows flat.  The figures (``chroma``,
    ``plain``, ``entropy``, ``spread``, ``opacity``, ``level``, ``side``, ``colour``, ``cells``)
    are those of :class:`~.hash_figures.PairFigures`; any of them None: its rule is not applied.
    """

    full: torch.Tensor
    valid: torch.Tensor
    crops: Sequence[tuple[torch.Tensor, torch.Tensor]] = ()
    chroma: np.ndarray | None = None
    plain: np.ndarray | None = None
    entropy: np.ndarray | None = None
    spread: np.ndarray | None = None
    thumbs: np.ndarray | torch.Tensor | None = None
    opacity: np.ndarray | None = None
    level: np.ndarray | None = None
    side: np.ndarray | None = None
    strip: tuple[torch.Tensor, torch.Tensor, np.ndarray | torch.Tensor | None] | None = None
    hw: np.ndarray | None = None
    colour: np.ndarray | None = None
    cells: np.ndarray | torch.Tensor | None = None

    def arrays(self) -> list[Any]:
        """Every row array (None where absent), in a fixed order: what
        :func:`~.identical_rows.identical_classes` compares."""
        out = [self.full, self.valid, *(x for c in self.crops for x in c), self.chroma, self.plain]
        out += [self.entropy, self.spread, self.thumbs, self.opacity, self.level, self.side]
        return [*out, *(self.strip or ()), self.hw, self.colour, self.cells]

    def take(self, rows: np.ndarray) -> HashRows:
        """The rows ``rows`` of every array (:func:`~.identical_rows.take_rows`)."""
        n = self.full.numel()
        t = lambda v: take_rows(v, rows)  # noqa: E731
        strip = None if self.strip is None else (t(self.strip[0]), t(self.strip[1]), t(self.strip[2]))
        return HashRows(
            t(self.full.reshape(n)), t(self.valid.reshape(n)),
            [(t(c.reshape(n)), t(v.reshape(n))) for c, v in self.crops],
            t(self.chroma), t(self.plain), t(self.entropy), t(self.spread), t(self.thumbs), t(self.opacity),
            t(self.level), t(self.side), strip, t(self.hw), t(self.colour), t(self.cells),
        )  # fmt: skip

    def figures(self, cells: bool = True) -> PairFigures:
        """The images' :class:`~.hash_figures.PairFigures` without thumbnails (the searches after
        the hashes' own take them from :attr:`thumbs` for their candidates); ``cells``: with the
        cell colours (the turns' rule; the window views compare no colours)."""
        return PairFigures(
            self.chroma, self.plain, self.entropy, self.spread, None, self.opacity, self.level, self.side,
            colour=self.colour, cells=self.cells if cells else None,
        )  # fmt: skip
