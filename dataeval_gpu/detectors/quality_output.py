"""What :meth:`~dataeval_gpu.detectors.quality.QualityIssues.evaluate` returns: every image's
scores and flags, and why an image was flagged, in words (:meth:`QualityOutput.why`: the score
against the threshold, and the figures the rule read - the dataset's typical value for a relative
issue, the direction of a motion blur, the noise estimates).  The issues, their scores and rules
are documented in :mod:`~dataeval_gpu.detectors.quality` and :mod:`~dataeval_gpu.detectors.quality_rules`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..functional.quality_motion import MOTION_KEYS
from ..output import OutputMetadata
from .quality_rules import (
    DARK_ABSOLUTE_P99,
    DARK_PEAK_MIN,
    MOTION_OFFSET,
    NOISE_GAUSS_RATIO,
    NOISE_TEXTURE_FLOOR,
    UNDEREXPOSED_PEAK,
    motion_blurred,
    tone_fill,
    underexposed,
)

__all__ = ["QualityOutput"]

#: ``motion_angle`` -> the direction's words in a ``blurry`` reason
_MOTION_WORDS = {0: "rows (horizontal, 0°)", 45: "rising diagonal (/, 45°)", 90: "columns (vertical, 90°)", 135: "falling diagonal (\\, 135°)"}


def _motion_words(metrics: Mapping[str, np.ndarray], index: int, threshold: float) -> str:
    """Where image ``index`` is blurred along a line, in words: the direction and how much of the
    sharpest direction's fine detail is left along it."""
    angle = int(round(float(metrics["motion_angle"][index])))
    ratio = float(metrics["motion_ratio"][index])
    return (
        f"along the {_MOTION_WORDS.get(angle, f'{angle}°')}: fine detail along it {ratio:.3g} of the sharpest"
        f" direction's, under {1.0 - threshold - MOTION_OFFSET:.3g}"
    )


@dataclass
class QualityOutput(OutputMetadata):
    """Scores, flags and reasons of :meth:`~dataeval_gpu.detectors.quality.QualityIssues.evaluate`.

    Attributes:
        scores: issue -> ``(N,)`` float64 scores (higher = worse).
        flags: issue -> ``(N,)`` bool.
        thresholds: issue -> threshold used.
        metrics: metric -> ``(N,)`` float64 (the quality metrics and width/height/channels).
        reference: the dataset values the relative issues compared with.
    """

    scores: dict[str, np.ndarray]
    flags: dict[str, np.ndarray]
    thresholds: dict[str, float]
    metrics: dict[str, np.ndarray]
    reference: dict[str, float] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(next(iter(self.scores.values()))) if self.scores else 0

    @property
    def flagged(self) -> np.ndarray:
        """``(N,)`` bool: flagged by any issue."""
        out = np.zeros(len(self), dtype=bool)
        for f in self.flags.values():
            out |= f
        return out

    def issues(self, index: int) -> list[str]:
        """Names of the issues image ``index`` is flagged for."""
        return [k for k in self.flags if bool(self.flags[k][index])]

    def _dark_reason(self, index: int, line: str) -> str:
        """Why image ``index`` is ``dark``: its highlights against the dataset's (``line``: the score
        against the threshold), the absolute floor, or under-exposure (:func:`underexposed`)."""
        m = self.metrics
        s, t = float(self.scores["dark"][index]), self.thresholds["dark"]
        p99 = float(m["grey_p99"][index])
        one = {k: v[index : index + 1] for k, v in m.items()}
        floor = p99 < DARK_ABSOLUTE_P99
        if not s > t and not floor and bool(underexposed(one, self.reference.get("bright_p9999"))[0]):
            peak, fill = float(m["bright_p9999"][index]), float(tone_fill(one)[0])
            typical = float(self.reference["bright_p9999"])
            return (
                f"dark: under-exposed, brightest 0.01 % at {peak:.3f} < {UNDEREXPOSED_PEAK:g} x dataset median"
                f" peak {typical:.3f}, with the tones of a picture under it (grey entropy"
                f" {float(m['grey_entropy'][index]):.2f} bits, {fill:.0%} of what its levels hold; score {s:.4g})"
            )
        line += f" (grey p99 {p99:.3f} vs dataset median {self.reference.get('grey_p99', float('nan')):.3f})"
        if not s > t and floor:  # the absolute floor (a one-image set's median is the image itself)
            line = f"dark: grey p99 {p99:.3f} < {DARK_ABSOLUTE_P99:g}, dark in any dataset (score {s:.4g})"
        if "bright_p9999" in m:
            peak = float(m["bright_p9999"][index])
            bound = f"{DARK_PEAK_MIN:g}"
            if peak >= DARK_PEAK_MIN:  # judged for its under-exposure (underexposed)
                bound = f"{UNDEREXPOSED_PEAK:g} x dataset median peak {self.reference.get('bright_p9999', float('nan')):.3f}"
            line += f", no highlights (peak {peak:.3f} < {bound})"
        return line

    def why(self, index: int) -> list[str]:
        """One sentence per issue image ``index`` is flagged for: its score against the threshold."""
        out = []
        for k in self.issues(index):
            s, t = float(self.scores[k][index]), self.thresholds[k]
            line = f"{k}: score {s:.4g} {'>=' if k == 'light' else '>'} threshold {t:.4g}"
            if k == "dark":
                line = self._dark_reason(index, line)
            elif k == "light":
                point = "black point of min(R, G, B)" if "dark_p001" in self.metrics else "grey black point"
                line += f" ({point}) and {float(self.metrics['bright_clipped'][index]):.0%} of pixels clipped white"
                if "grey_p0001" in self.metrics:
                    line += f", no darker tail (darkest 0.01 % {float(self.metrics['grey_p0001'][index]):.3f})"
            elif k == "low_contrast":
                p01, p99 = float(self.metrics["grey_p01"][index]), float(self.metrics["grey_p99"][index])
                line += (
                    f" (tonal range grey p01-p99 {p01:.3f}-{p99:.3f}: {p99 - p01:.3f} vs the dataset's typical range"
                    f" {self.reference.get('contrast', float('nan')):.3f}, its lower quartile; reaches neither black nor white)"
                )
            elif k == "blurry":
                keys = (*MOTION_KEYS, "grey_p99", "opacity", "occupancy", "width", "height")
                one = {n: v[index : index + 1] for n, v in self.metrics.items() if n in keys}
                if bool(motion_blurred(one, t)[0]):
                    line = f"blurry: motion blur {_motion_words(self.metrics, index, t)}; score {s:.4g} > threshold {t:.4g}"
                line += (
                    f" (sharpness: working resolution {float(self.metrics['norm_sharpness'][index]):.3g},"
                    f" coarse {float(self.metrics['coarse_sharpness'][index]):.3g},"
                    f" native {float(self.metrics['fine_sharpness'][index]):.3g})"
                )
            elif k == "noisy":
                mad = float(self.metrics["noise_robust"][index])
                # the impulse estimate: the mean one beyond the texture floor and what the median explains
                floor = NOISE_TEXTURE_FLOOR
                if "impulse_share" in self.metrics:
                    floor = max(floor, NOISE_GAUSS_RATIO * mad)
                line += f" (MAD σ {mad:.3g}, Immerkær σ {float(self.metrics['noise'][index]):.3g} less its floor {floor:.3g}"
                if "noise_flat" in self.metrics and "impulse_share" in self.metrics:
                    line += (
                        f", flattest blocks σ {float(self.metrics['noise_flat'][index]):.3g},"
                        f" isolated impulses {float(self.metrics['impulse_share'][index]):.2%}"
                    )
                line += f", grey entropy {float(self.metrics['grey_entropy'][index]):.3g} bits"
                if "noise_chroma" in self.metrics:
                    line += f", channel-difference σ {float(self.metrics['noise_chroma'][index]):.3g}"
                line += ")"
            elif k == "low_information":
                if "opacity" in self.metrics and float(self.metrics["opacity"][index]) <= 0.0:
                    line = (
                        "low_information: nothing visible, every pixel fully transparent"
                        f" (opacity 0; score {s:.4g} > threshold {t:.4g})"
                    )
                else:
                    line += f" (grey entropy of what is seen {8.0 - s:.3g} bits)"
            elif k == "grayscale":
                share = self.reference.get("grey_share", float("nan"))  # among the images judged (grey_judged)
                line += f" (grey images are {share:.1%} of the dataset's opaque colour-stored images)"
            elif k in ("odd_size", "odd_aspect_ratio"):
                key = "side" if k == "odd_size" else "aspect"
                line += (
                    f" (octaves from the dataset median {key} {self.reference.get(key, float('nan')):.4g})"
                )
            out.append(line)
        return out

    def to_dict(self) -> dict[str, np.ndarray]:
        """Columns ``<issue>_score`` and ``is_<issue>_issue`` for every issue (CleanVision's names)."""
        cols: dict[str, np.ndarray] = {}
        for k in self.scores:
            cols[f"{k}_score"] = self.scores[k]
            cols[f"is_{k}_issue"] = self.flags[k]
        return cols

    def to_pandas(self) -> Any:
        """One row per image: every score and flag (needs pandas)."""
        import pandas as pd

        return pd.DataFrame(self.to_dict())
