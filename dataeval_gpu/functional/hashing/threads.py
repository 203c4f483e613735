"""The one point where the hashing package reaches the shared CPU thread pool.

Today the pool lives in ``functional/stats.py`` under private names; when the public
thread-pool module lands, the import line below is the only line to change.
"""

from __future__ import annotations

from .. import stats as _pool_module  # the one line to switch to the public pool module

map_images_cpu = _pool_module._map_images_cpu  # noqa: SLF001 - until the public pool module lands
pool = _pool_module._pool  # noqa: SLF001
threads = _pool_module._threads  # noqa: SLF001

__all__ = ["map_images_cpu", "pool", "threads"]
