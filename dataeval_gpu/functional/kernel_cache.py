"""numba's disk cache of the package's kernels kept true to every kernel module's source.

numba's cache index (``cache=True``) is keyed by the source of the file that defines the
kernel called, and by nothing else of the package: a kernel of ``quality_compiled.py`` that calls
(inlines) a kernel of ``quality_block_compiled.py`` was loaded with the old machine code after a
change to ``quality_block_compiled.py`` alone (an edit, a ``git pull``, an upgrade in place) until
``quality_compiled.py`` changed too: stale values, and no error.

Every kernel of the package is declared with :func:`njit` (numba's ``njit(cache=True,
nogil=True)``), which first checks, once per process, a digest of the sources of all the kernel
modules (:data:`KERNEL_MODULES`: a test keeps the list equal to the modules that use
:func:`njit`) against the digest stored in each directory where numba keeps their cache (the
in-tree ``__pycache__``, ``NUMBA_CACHE_DIR``, or numba's user-wide folder for a read-only
install: numba's own locators decide, :func:`numba_cache_dir`).  Where the stored digest differs
or is missing, the kernel modules' numba files there (``.nbi`` index, ``.nbc`` code) are removed
before any kernel loads, and the kernels are compiled afresh.  Processes that start at once
(torchrun) take a lock on the directory (``fcntl.flock``) to compare, remove and write the digest
(atomically: a temporary file renamed into place), so a second process finds the digest written
and keeps the first one's fresh files.  Forked processes (the warm-up's compile,
``kernel_warmup.compile_in_parallel``) inherit the check done.  The check reads the sources
(~200 kB) and the digest files, ~1 ms; numba is already imported where it runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import types
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

try:
    import numba
except ImportError:  # pragma: no cover - numba is a default dependency
    numba = None

__all__ = ["DIGEST_FILE", "KERNEL_MODULES", "PACKAGE_KERNELS", "KernelSources", "jit_for", "njit", "numba_cache_dir"]

# The package's modules that define numba kernels, relative to the package's folder.  A kernel
# that reads another module's constant freezes its value: keep such constants in these modules.
KERNEL_MODULES = (
    "detectors/clusterer_exact.py",
    "detectors/clusterer_tree.py",
    "functional/clustering.py",
    "functional/clustering_mst.py",
    "functional/hashing/compiled.py",
    "functional/knn_kernels.py",
    "functional/linkage.py",
    "functional/linkage_mst.py",
    "functional/linkage_tiles.py",
    "functional/quality_band_compiled.py",
    "functional/quality_alpha_colour_compiled.py",
    "functional/quality_block_compiled.py",
    "functional/quality_chroma_compiled.py",
    "functional/quality_compiled.py",
    "functional/quality_dark.py",
    "functional/quality_fine_compiled.py",
    "functional/quality_grain_compiled.py",
    "functional/quality_median.py",
    "functional/quality_motion.py",
    "functional/quality_occupancy_compiled.py",
    "functional/quality_seam_compiled.py",
    "functional/quality_texture_compiled.py",
    "functional/stats_compiled.py",
)
DIGEST_FILE = "dataeval_gpu-kernels.sha256"
LOCK_FILE = "dataeval_gpu-kernels.lock"


def _probe() -> None:
    """A function whose code :func:`numba_cache_dir` places in a kernel module's file."""


def numba_cache_dir(py_file: str) -> str | None:
    """The folder where numba caches the kernels defined in ``py_file``, chosen by numba's own
    locators (as for a kernel: ``NUMBA_CACHE_DIR``, the writable ``__pycache__`` beside the file,
    numba's user-wide cache folder; ``NUMBA_CACHE_LOCATOR_CLASSES`` honoured); None where numba
    has no disk cache for it."""
    if numba is None:  # pragma: no cover - numba is a default dependency
        return None
    from numba.core.caching import CompileResultCacheImpl

    probe = types.FunctionType(_probe.__code__.replace(co_filename=py_file), {})  # a function "defined" there
    try:
        return CompileResultCacheImpl(probe).locator.get_cache_path()
    except RuntimeError:  # numba: "no locator available" (nowhere writable)
        return None


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def _locked(directory: str) -> Iterator[None]:
    """An exclusive lock on ``directory``'s lock file (none without ``fcntl``: Windows)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: the digest's atomic write only
        yield
        return
    fd = os.open(os.path.join(directory, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # (closing releases the lock)


def _write_atomic(path: str, text: str) -> None:
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    os.replace(tmp, path)


def refresh_dir(directory: str, stems: Sequence[str], digest: str) -> bool:
    """Make numba's cache in ``directory`` hold nothing compiled from sources other than those
    of ``digest``: where its stored digest differs, the numba files (``.nbi``, ``.nbc``) of the
    modules named ``stems`` are removed and ``digest`` is stored.  Returns True when files were
    removed (or the digest was missing).  Compared again under the lock: a process that starts
    at the same time finds the digest stored by the first and removes nothing."""
    path = os.path.join(directory, DIGEST_FILE)
    if _read(path) == digest:
        return False
    with _locked(directory):
        if _read(path) == digest:
            return False
        names = set(stems)
        for name in os.listdir(directory):
            if name.endswith((".nbi", ".nbc")) and name.split(".", 1)[0] in names:
                with contextlib.suppress(FileNotFoundError):  # (removed by another cleaner)
                    os.unlink(os.path.join(directory, name))
        _write_atomic(path, digest)
    return True


class KernelSources:
    """The kernel modules of one package (``root``: its folder; ``modules``: paths below it) and
    the once-per-process check of numba's cache against their sources (:meth:`check_once`)."""

    def __init__(self, root: str, modules: Sequence[str]) -> None:
        self.root, self.modules = root, tuple(modules)
        self.checked = False
        self.refreshed: list[str] = []  # the cache folders cleaned by this process's check
        self._lock = threading.Lock()

    def path(self, module: str) -> str:
        return os.path.join(self.root, *module.split("/"))

    def digest(self) -> str:
        """SHA-256 over the modules' names and contents (a missing module counts as such)."""
        total = hashlib.sha256()
        for module in sorted(self.modules):
            try:
                with open(self.path(module), "rb") as f:
                    content = hashlib.sha256(f.read()).hexdigest()
            except OSError:
                content = "missing"
            total.update(f"{module}\0{content}\n".encode())
        return total.hexdigest()

    def cache_dirs(self) -> dict[str, list[str]]:
        """numba's cache folder of each source folder, with the module names cached there."""
        by_folder: dict[str, list[str]] = {}
        for module in self.modules:
            by_folder.setdefault(os.path.dirname(self.path(module)), []).append(module)
        dirs: dict[str, list[str]] = {}
        for modules in by_folder.values():  # (numba's locators depend on the file's folder alone)
            cache = numba_cache_dir(self.path(modules[0]))
            if cache is not None:
                dirs.setdefault(cache, []).extend(os.path.splitext(os.path.basename(m))[0] for m in modules)
        return dirs

    def refresh(self) -> list[str]:
        """Every cache folder of the modules brought to their present sources (:func:`refresh_dir`);
        returns the folders where numba's files were removed.  A folder that cannot be cleaned is
        named in a RuntimeWarning (its kernels may then be stale)."""
        digest, cleaned = self.digest(), []
        for directory, stems in self.cache_dirs().items():
            try:
                if refresh_dir(directory, stems, digest):
                    cleaned.append(directory)
            except OSError as exc:
                warnings.warn(
                    f"numba's kernel cache in {directory} could not be checked against the kernels' "
                    f"sources ({exc}): a kernel that calls one of another module may load stale code",
                    RuntimeWarning,
                    stacklevel=2,
                )
        return cleaned

    def check_once(self) -> None:
        """:meth:`refresh`, the first time in this process (and its forked children)."""
        if self.checked:
            return
        with self._lock:
            if not self.checked:
                if numba is not None and not numba.config.DISABLE_JIT:
                    self.refreshed = self.refresh()
                self.checked = True


PACKAGE_KERNELS = KernelSources(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), KERNEL_MODULES)


def jit_for(sources: KernelSources) -> Callable[..., Any]:
    """The ``njit`` decorator of a package's kernels: ``@njit`` or ``@njit(inline="always")``
    (numba's options), numba's ``njit(cache=True, nogil=True)`` after ``sources.check_once()``;
    the function itself without numba, and a kernel without disk cache where numba has no
    writable cache folder."""

    def njit(fn: Callable | None = None, **options: Any) -> Any:
        if fn is None:
            return lambda f: njit(f, **options)
        if numba is None:  # pragma: no cover - numba is a default dependency
            return fn
        sources.check_once()
        try:
            return numba.njit(cache=True, nogil=True, **options)(fn)
        except Exception:  # pragma: no cover - no writable cache location: compiled in each process
            return numba.njit(nogil=True, **options)(fn)

    return njit


njit = jit_for(PACKAGE_KERNELS)
