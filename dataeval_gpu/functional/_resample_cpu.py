"""Old import path of the compiled CPU kernels, now :mod:`dataeval_gpu.functional.hashing.compiled`."""

from __future__ import annotations

from .hashing.compiled import AVAILABLE, grey_lanczos_exact, grey_lanczos_u8, lanczos_coeffs, ready

__all__ = ["AVAILABLE", "grey_lanczos_exact", "grey_lanczos_u8", "lanczos_coeffs", "ready"]
