"""The Linter: images whose statistics are extreme (DataEval 0.65 behaviour, plus 1.x options).

Works on the accumulated statistics, never on pixels.  Methods (``outlier_threshold``
defaults in brackets):

* ``zscore`` (3.0): ``|v − mean| / std > t``;
* ``modzscore`` (3.5, the default): ``0.6745·|v − median| / MAD > t``, MAD = median of
  ``|v − median|``, or its mean when that median is 0;
* ``iqr`` (1.5): outside ``[Q1 − t·IQR, Q3 + t·IQR]`` with midpoint quartiles;
* ``adaptive`` (DataEval 1.x): each metric gets its own threshold, the larger of the method's
  default and the value that keeps the flagged share at ``adaptive_max_fraction`` of the
  images (so a metric with a long natural tail is not flagged wholesale).

Only 1-D metrics whose spread is non-zero are linted.  ``class_wise=True`` with per-image
``labels`` computes the thresholds within each class.

``evaluate(images)`` and ``_get_outliers()`` on :func:`~dataeval_gpu.metrics.imagestats` output
(the guide's calls) lint the float statistics as DataEval 0.65 stores them, rounded to float16
(:func:`as_stored_by_065`), so that a value within float16 rounding of a bound is flagged as 0.65
flags it; :meth:`Linter.evaluate_stats` lints the values it is given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..errors import InvalidArgumentError
from ..flags import METRIC_FLAGS, ImageStat, verify_supported
from ..metrics.stats import StatsOutput, imagestats
from ..output import OutputMetadata, set_metadata

__all__ = [
    "F16_STATS",
    "Linter",
    "LinterOutput",
    "as_stored_by_065",
    "outlier_mask",
    "outlier_scores",
    "reference_summary",
]

Method = Literal["zscore", "modzscore", "iqr"]
_DEFAULTS = {"zscore": 3.0, "modzscore": 3.5, "iqr": 1.5}
#: the statistics DataEval 0.65's ``imagestats`` rounds to float16 (``np.float16(...)``, stored in
#: float64 arrays); its Linter computes in float64 on the rounded values
F16_STATS = frozenset(
    {"aspect_ratio", "brightness", "blurriness", "missing", "zero", "mean", "std", "var", "skew", "kurtosis",
     "percentiles", "entropy"}
)  # fmt: skip


def as_stored_by_065(stats: Mapping[str, Any]) -> dict[str, Any]:
    """``stats`` ({metric: values}) with the :data:`F16_STATS` rounded to float16 and back to
    float64, as DataEval 0.65's ``imagestats`` stores them (the others as they are).  E.g. an
    aspect ratio 3.2 is 3.19921875: of 987 pingus sprites, one 64 x 20 had a modified z-score of
    3.5002 in float64 and 3.4966 (0.65, under the 3.5 bound) rounded."""
    out = dict(stats)
    with np.errstate(over="ignore"):  # 0.65's float16 overflows to inf (a kurtosis over 65504)
        for k, v in stats.items():
            if k in F16_STATS and isinstance(v, np.ndarray) and v.dtype.kind == "f":
                out[k] = v.astype(np.float16).astype(np.float64)
    return out


@dataclass(frozen=True)
class LinterOutput(OutputMetadata):
    """``issues``: {image index: {metric: value rounded to 2 dp}}, sorted by index (``.meta()``:
    what ran, when, for how long — DataEval 0.65's metadata)."""

    issues: dict[int, dict[str, float]]

    def dict(self) -> dict[str, Any]:
        return {"issues": self.issues}


def reference_summary(values: np.ndarray) -> dict[str, float]:
    """What each method measures a value against, from a collection's values: ``mean``,
    ``std`` (zscore), ``median``, ``mad`` (modzscore, with its mean-deviation fallback), ``q1``,
    ``q3`` (iqr, midpoint quartiles).  :func:`outlier_mask` with ``reference=`` uses them."""
    v = np.asarray(values, dtype=np.float64)
    med = float(np.median(v))
    dev = np.abs(v - med)
    mad = float(np.median(dev))
    q1, q3 = np.percentile(v, (25, 75), method="midpoint")
    return {
        "mean": float(np.mean(v)),
        "std": float(np.std(v)),
        "median": med,
        "mad": mad if mad != 0 else float(np.mean(dev)),
        "q1": float(q1),
        "q3": float(q3),
    }


def outlier_scores(values: np.ndarray, method: Method, reference: Mapping[str, float] | None = None) -> np.ndarray:
    """The score each method thresholds (float64; for ``iqr`` the distance past the fence in IQRs).

    ``reference``: a :func:`reference_summary` of another collection to score the values
    against (e.g. new images against an indexed dataset); default the values themselves."""
    v = np.asarray(values, dtype=np.float64)
    if reference is not None and method in _DEFAULTS:
        r = reference
        if method == "zscore":
            return np.abs(v - r["mean"]) / r["std"]
        if method == "modzscore":
            return 0.6745 * np.abs(v - r["median"]) / r["mad"]
        iqr = r["q3"] - r["q1"]
        return np.maximum((r["q1"] - v) / iqr, (v - r["q3"]) / iqr)
    if method == "zscore":
        return np.abs(v - np.mean(v)) / np.std(v)
    if method == "modzscore":
        dev = np.abs(v - np.median(v))
        mad = np.median(dev)
        mad = mad if mad != 0 else np.mean(dev)
        return 0.6745 * dev / mad
    if method == "iqr":
        q1, q3 = np.percentile(v, (25, 75), method="midpoint")
        iqr = q3 - q1
        below = (q1 - v) / iqr
        above = (v - q3) / iqr
        return np.maximum(below, above)
    raise InvalidArgumentError(f"outlier_method must be 'zscore', 'modzscore' or 'iqr', got {method!r}")


def outlier_mask(
    values: np.ndarray, method: Method, threshold: float | None = None, reference: Mapping[str, float] | None = None
) -> np.ndarray:
    """Boolean mask of the values each method calls an outlier (DataEval 0.65's rules), within
    the values or, with ``reference`` (:func:`reference_summary`), against another collection.
    ``threshold`` None or 0 means the method's default (0.65: ``threshold if threshold else ...``)."""
    t = threshold if threshold else _DEFAULTS.get(method)
    if t is None:
        raise InvalidArgumentError(f"outlier_method must be 'zscore', 'modzscore' or 'iqr', got {method!r}")
    v = np.asarray(values, dtype=np.float64)
    if method == "iqr":
        if reference is not None:
            q1, q3 = reference["q1"], reference["q3"]
        else:
            q1, q3 = np.percentile(v, (25, 75), method="midpoint")
        span = (q3 - q1) * t
        return (v < q1 - span) | (v > q3 + span)
    with np.errstate(divide="ignore", invalid="ignore"):
        return outlier_scores(v, method, reference) > t


def _adaptive_threshold(values: np.ndarray, method: Method, base: float, max_fraction: float) -> float:
    scores = outlier_scores(values, method)
    finite = scores[np.isfinite(scores)]
    if finite.size == 0:
        return base
    cap = float(np.quantile(finite, 1.0 - max_fraction))
    return max(base, cap)


class Linter:
    """Flags images with extreme statistics.

    Parameters
    ----------
    flags : the statistics to lint: any registered metric (``flags.METRIC_FLAGS``: 0.65's
        ``ALL_STATS``, DataEval 1.x's ``ALL_V1``, later metrics); default
        ``ALL_PROPERTIES | ALL_VISUALS`` as in 0.65.
    outlier_method : ``"modzscore"`` (default), ``"zscore"`` or ``"iqr"``.
    outlier_threshold : the method's threshold; its default when None or 0 (as 0.65).
    adaptive : DataEval 1.x's adaptive threshold: per metric, raise the threshold so at most
        ``adaptive_max_fraction`` of the images are flagged for it.
    class_wise : with ``labels`` given to :meth:`evaluate`, lint each class against itself.
    batch_size, device, progress : how the statistics are computed.

    Examples
    --------
    >>> import numpy as np
    >>> imgs = [np.full((1, 8, 8), 100 + (i % 5), np.uint8) for i in range(20)]
    >>> imgs.append(np.full((1, 8, 8), 250, np.uint8))
    >>> Linter(flags=ImageStat.BRIGHTNESS).evaluate(imgs).issues
    {20: {'brightness': 0.98}}
    """

    def __init__(
        self,
        flags: ImageStat = ImageStat.ALL_PROPERTIES | ImageStat.ALL_VISUALS,
        outlier_method: Method = "modzscore",
        outlier_threshold: float | None = None,
        *,
        adaptive: bool = False,
        adaptive_max_fraction: float = 0.05,
        class_wise: bool = False,
        batch_size: int = 64,
        device: Any = None,
        progress: bool | None = None,
    ) -> None:
        verify_supported(flags, METRIC_FLAGS)
        if outlier_method not in _DEFAULTS:
            raise InvalidArgumentError(
                f"outlier_method must be 'zscore', 'modzscore' or 'iqr', got {outlier_method!r}"
            )
        if not 0 < adaptive_max_fraction < 1:
            raise InvalidArgumentError(f"adaptive_max_fraction must be in (0, 1), got {adaptive_max_fraction}")
        self.flags = flags
        self.outlier_method: Method = outlier_method
        self.outlier_threshold = outlier_threshold
        self.adaptive = adaptive
        self.adaptive_max_fraction = adaptive_max_fraction
        self.class_wise = class_wise
        self.batch_size = batch_size
        self.device = device
        self.progress = progress
        self.labels: np.ndarray | None = None
        self.stats: StatsOutput
        self.thresholds: dict[str, float] = {}

    def _threshold(self, values: np.ndarray) -> float:
        # 0.65 takes any falsy threshold (None, 0) for the method's default
        base = self.outlier_threshold if self.outlier_threshold else _DEFAULTS[self.outlier_method]
        if not self.adaptive:
            return base
        return _adaptive_threshold(values, self.outlier_method, base, self.adaptive_max_fraction)

    def _flag(self, values: np.ndarray) -> tuple[np.ndarray, float]:
        t = self._threshold(values)
        return outlier_mask(values, self.outlier_method, t), t

    @set_metadata("dataeval_gpu.detectors", ["flags", "outlier_method", "outlier_threshold"])
    def evaluate_stats(
        self, stats: StatsOutput | Mapping[str, Any], labels: Sequence[Any] | np.ndarray | None = None
    ) -> LinterOutput:
        """Lint statistics already computed: ``stats`` is a :class:`StatsOutput` or a mapping
        {metric: array with one value per image}; ``labels`` (one per image) for ``class_wise``.

        Every 1-D metric given is linted (the ``flags`` choose what :meth:`evaluate` computes).
        Image indices in the result are positions in the arrays.

        Examples
        --------
        >>> import numpy as np
        >>> Linter().evaluate_stats({"brightness": np.array([0.5] * 9 + [0.9])}).issues
        {9: {'brightness': 0.9}}
        """
        self._set(stats, labels)
        return LinterOutput(self._lint())

    def _set(self, stats: StatsOutput | Mapping[str, Any], labels: Any) -> None:
        """``self.stats`` / ``self.labels``, the labels checked (one class per image for ``class_wise``)."""
        self.stats = stats  # type: ignore[assignment]
        if labels is not None and self.class_wise:
            labels = one_class_per_image(labels)  # a clear error for masks / object lists
        if labels is not None and (not hasattr(labels, "__len__") or getattr(labels, "ndim", 1) == 0):
            raise InvalidArgumentError(f"labels must hold one label per image, got {type(labels).__name__} {labels!r}")
        self.labels = labels  # type: ignore[assignment]
        if self.labels is not None:
            values = stats.dict() if hasattr(stats, "dict") else dict(stats)
            n = len(next(iter(values.values()), []))
            if len(self.labels) != n:
                raise InvalidArgumentError(f"got {len(self.labels)} labels for {n} images")

    @set_metadata("dataeval_gpu.detectors", ["flags", "outlier_method", "outlier_threshold"])
    def evaluate_against(
        self, stats: StatsOutput | Mapping[str, Any], reference: Mapping[str, Mapping[str, float]]
    ) -> LinterOutput:
        """Lint statistics against another collection: ``reference`` is {metric:
        :func:`reference_summary` of that collection's values} (e.g. a dataset index's), and an
        image is flagged for a metric when it is an outlier of *that* distribution.  Metrics
        without a reference, or whose reference spread is zero, are not linted.

        Examples
        --------
        >>> import numpy as np
        >>> ref = {"brightness": reference_summary(np.linspace(0.4, 0.6, 50))}
        >>> Linter().evaluate_against({"brightness": np.array([0.5, 0.95])}, ref).issues
        {1: {'brightness': 0.95}}
        """
        values_by_name = stats.dict() if hasattr(stats, "dict") else dict(stats)
        t = self.outlier_threshold if self.outlier_threshold else _DEFAULTS[self.outlier_method]
        flagged: dict[int, dict[str, float]] = {}
        for name, values in values_by_name.items():
            ref = reference.get(name)
            if ref is None or not isinstance(values, np.ndarray) or values.ndim != 1 or not ref.get("std"):
                continue
            values = values.astype(np.float64) if values.dtype.kind in "iub" else values
            mask = outlier_mask(values, self.outlier_method, t, reference=ref)
            for i in np.flatnonzero(mask):
                flagged.setdefault(int(i), {})[name] = float(np.round(values[i], 2))
        return LinterOutput(dict(sorted(flagged.items())))

    def _get_outliers(self) -> dict[int, dict[str, float]]:
        """DataEval 0.65's name: lint ``self.stats`` (the guide assigns ``lint.stats = imagestats(...)``
        and calls this).  Same as ``evaluate_stats(self.stats, self.labels).issues``, but for
        :func:`~dataeval_gpu.metrics.imagestats` output (a :class:`StatsOutput`), whose float
        statistics are linted as 0.65 stores them (:func:`as_stored_by_065`)."""
        self._set(self.stats, self.labels)
        return self._lint(stored_065=isinstance(self.stats, StatsOutput))

    def _lint(self, stored_065: bool = False) -> dict[int, dict[str, float]]:
        """{position: {metric: value}} of ``self.stats`` (``self.labels`` for ``class_wise``);
        ``stored_065``: the float statistics rounded as 0.65 stores them (:func:`as_stored_by_065`)."""
        flagged: dict[int, dict[str, float]] = {}
        self.thresholds = {}
        stats = self.stats.dict() if hasattr(self.stats, "dict") else dict(self.stats)
        if stored_065:
            stats = as_stored_by_065(stats)
        groups: list[np.ndarray] | None = None
        if self.class_wise:
            if self.labels is None:
                raise InvalidArgumentError("class_wise=True needs labels: evaluate(images, labels=...)")
            labels = np.asarray(self.labels)
            groups = [np.flatnonzero(labels == c) for c in np.unique(labels)]
        for name, values in stats.items():
            if not isinstance(values, np.ndarray):
                continue
            values = values.astype(np.float64) if values.dtype.kind in "iub" else values
            with np.errstate(invalid="ignore"):  # a value 0.65's float16 stores as inf: std NaN, linted
                if values.ndim != 1 or np.std(values) == 0:
                    continue
            if groups is None:
                mask, t = self._flag(values)
                self.thresholds[name] = t
            else:
                mask = np.zeros(values.shape, dtype=bool)
                for idx in groups:
                    sub = values[idx]
                    if idx.size > 1 and np.std(sub) != 0:
                        mask[idx] = self._flag(sub)[0]
            for i in np.flatnonzero(mask):
                flagged.setdefault(int(i), {})[name] = float(np.round(values[i], 2))
        return dict(sorted(flagged.items()))

    @set_metadata("dataeval_gpu.detectors", ["flags", "outlier_method", "outlier_threshold"])
    def evaluate(self, images: Any, labels: Sequence[Any] | np.ndarray | None = None) -> LinterOutput:
        """Compute the statistics of ``images`` and return the flagged ones.

        ``labels`` (one per image) are needed for ``class_wise``.
        """
        stats = imagestats(images, self.flags, batch_size=self.batch_size, device=self.device, progress=self.progress)
        self._set(stats, labels)
        return LinterOutput(self._lint(stored_065=True))


def one_class_per_image(labels: Any) -> np.ndarray:
    """``labels`` as a 1-D array of one class per image (what ``class_wise`` groups by); a
    clear error for anything else (masks, lists of object classes)."""
    shape: Any = getattr(labels, "shape", None)
    try:
        arr = np.asarray(labels.cpu() if hasattr(labels, "cpu") else labels)
    except ValueError:  # ragged lists of object classes
        arr = None
    if arr is None or arr.ndim != 1 or arr.dtype == object and any(isinstance(v, (list, tuple, dict)) for v in arr):
        got = tuple(shape) if shape is not None else (arr.shape if arr is not None else "ragged lists")
        raise InvalidArgumentError(
            "class_wise=True needs one class label per image (a 1-D sequence of ints or strings), "
            f"got labels of shape {got}"
        )
    return arr

