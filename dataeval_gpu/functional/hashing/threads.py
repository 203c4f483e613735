"""The one point where the hashing package reaches the shared CPU thread pool.

Today the pool lives in ``functional/stats.py`` under private names; when the public
thread-pool module lands, the import line below is the only line to change.
"""

from __future__ import annotations

from ..stats import _map_images_cpu as map_images_cpu  # noqa: F401, I001 - the one line to switch
from ..stats import _pool as pool
from ..stats import _threads as threads

__all__ = ["map_images_cpu", "pool", "threads"]
