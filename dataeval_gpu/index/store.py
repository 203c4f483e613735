"""The index's files: the rows (Parquet), the hashes and flags (``.npy``), the embeddings
(``.npy``, plus a faiss index when faiss is installed).

One generation is one set of these files, named ``<kind>-<generation>.<ext>``; row ``i`` of
each is the image with dataset index ``i`` (the position in the collection's file list).

* ``rows-G.parquet``: ``path``, ``file_size``, ``mtime_ns``, ``digest`` (xxh3_64 of the
  file's bytes), ``label``, ``status`` (``ok`` / ``failed``), ``error``, then every stored
  metric (a ``(N, k)`` metric such as ``percentiles`` or ``histogram`` as a fixed-size list).
* ``hashes-G.npy``: ``(N, 2)`` uint64 words, the xxhash of the decoded pixels and the near
  hash (16 bytes per image: 160 MB for 10,000,000 images), opened memory-mapped.
* ``flags-G.npy``: ``(N,)`` uint8, bit 0 the image was measured, bit 1 its near hash is valid,
  bit ``2 + k`` the near hash of its ``k``-th central crop is valid.
* ``crops-G.npy``: ``(N, C)`` uint64, the near hashes of each image's central crops (the
  ``pchash_crops`` column of the rows file, memory-mapped for the ``--against`` search; absent
  without crops and in an index written before it).
* ``scale-G.npy``: ``(N, 3, 8)`` uint64, each image's whole thumbnail brought to 8, 16 and 24 px
  and hashed in its 8 flips / rotations (:func:`~dataeval_gpu.index.scale_matches.scale_hashes`:
  what a copy under 33 px a side is paired by); zeros for images under 33 px.  Absent without
  the thumbnails and in an index written before it.
* ``embeddings-G.npy`` / ``embeddings-G.faiss``: ``(N, D)`` float32 (zero rows for failed
  images) and a flat inner-product faiss index of the L2-normalised rows.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..discovery import text_path
from ..errors import missing_dependency

__all__ = [
    "Collection",
    "FILE_COLUMNS",
    "CROP_VALID",
    "MEASURED",
    "NEAR_VALID",
    "ROW_GROUP",
    "faiss_module",
    "normalised",
    "open_array",
    "read_rows",
    "remove_unlisted",
    "table_arrays",
    "write_generation",
]

#: the per-file columns of the rows file (the rest are metrics)
FILE_COLUMNS = ("path", "file_size", "mtime_ns", "digest", "label", "status", "error")
MEASURED, NEAR_VALID = 1, 2
#: flag bit of the first crop's valid near hash (crop ``k``: ``CROP_VALID << k``)
CROP_VALID = 4
#: rows per Parquet row group: a query reads the paths of the groups that hold its partners
#: only, and the writer encodes one group at a time (65,536 rows with their 3 KB of thumbnails
#: each took ~1.9 GB to write; 8,192 rows ~0.4 GB)
ROW_GROUP = 8192


def pyarrow() -> Any:
    """``(pyarrow, pyarrow.parquet)``, or a clear error naming the extra that installs it."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise missing_dependency("pyarrow", "report") from exc
    return pa, pq


@dataclass
class Collection:
    """Every file of an indexed collection, row ``i`` = dataset index ``i``.

    ``files``: the :data:`FILE_COLUMNS` less ``status`` / ``error`` as arrays; ``measured``
    (bool) and ``errors`` (the reason per failed row, ``""`` otherwise); ``stats``: {metric:
    ``(N, ...)`` array}; ``hashes`` ``(N, 2)`` uint64 and ``near_valid`` (bool) or None;
    ``embeddings`` ``(N, D)`` float32 or None.
    """

    files: dict[str, np.ndarray]
    measured: np.ndarray
    errors: list[str]
    stats: dict[str, np.ndarray] = field(default_factory=dict)
    hashes: np.ndarray | None = None
    near_valid: np.ndarray | None = None
    embeddings: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.measured)


def _column(pa: Any, values: np.ndarray) -> Any:
    if values.ndim == 1:
        return pa.array(values)
    flat = pa.array(np.ascontiguousarray(values).reshape(-1))
    return pa.FixedSizeListArray.from_arrays(flat, int(np.prod(values.shape[1:])))


def _write_fsync(tmp: Path, final: Path, write: Any) -> None:
    write(tmp)
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, final)


def write_generation(
    folder: Path, generation: int, coll: Collection, on_rows: Callable[[int, int], Any] | None = None
) -> dict[str, str]:
    """Write ``coll`` as generation ``generation`` (temp names, fsync, rename); returns the
    file names the manifest lists.  Nothing refers to them until the manifest is swapped.
    ``on_rows(done, total)`` is called after each row group of the rows file."""
    pa, pq = pyarrow()
    names: dict[str, str] = {}

    def part(start: int, stop: int) -> Any:
        """The rows file's rows ``start:stop`` as a pyarrow table."""
        cols = {
            k: pa.array([text_path(str(p)) for p in v[start:stop]], type=pa.string())
            if k == "path"
            else _column(pa, np.asarray(v)[start:stop])
            for k, v in coll.files.items()
        }  # a path as text: a Latin-1 file name is written with its odd bytes as \xe9
        cols["status"] = pa.array(np.where(coll.measured[start:stop], "ok", "failed"))
        cols["error"] = pa.array(coll.errors[start:stop], type=pa.string())
        for key, val in coll.stats.items():
            cols[key] = _column(pa, val[start:stop])
        return pa.table(cols)

    def write_rows(path: Path) -> None:
        # one row group at a time: the whole table (a copy of every row) is never built
        first = part(0, ROW_GROUP)
        with pq.ParquetWriter(path, first.schema) as writer:
            writer.write_table(first, row_group_size=ROW_GROUP)
            for start in range(ROW_GROUP, len(coll), ROW_GROUP):
                if on_rows is not None:
                    on_rows(start, len(coll))
                writer.write_table(part(start, start + ROW_GROUP).cast(first.schema), row_group_size=ROW_GROUP)

    def save(kind: str, ext: str, write: Any) -> None:
        name = f"{kind}-{generation}.{ext}"
        _write_fsync(folder / f".{name}.tmp", folder / name, write)
        names[kind] = name

    save("rows", "parquet", write_rows)
    flags = coll.measured.astype(np.uint8) * MEASURED
    if coll.hashes is not None:
        flags |= np.asarray(coll.near_valid, dtype=np.uint8) * NEAR_VALID
        save("hashes", "npy", lambda p: _save_npy(p, np.ascontiguousarray(coll.hashes, dtype=np.uint64)))
        crops, crops_ok = coll.stats.get("pchash_crops"), coll.stats.get("pchash_crops_valid")
        if crops is not None and crops_ok is not None and 0 < crops.shape[1] <= 6:
            for k in range(crops.shape[1]):
                flags |= np.asarray(crops_ok[:, k], dtype=np.uint8) * np.uint8(CROP_VALID << k)
            words = np.ascontiguousarray(crops).view(np.uint64)
            save("crops", "npy", lambda p: _save_npy(p, words))
        thumbs, h, w = (coll.stats.get(k) for k in ("pchash_thumbs", "height", "width"))
        if thumbs is not None and h is not None and w is not None:
            from .scale_matches import scale_hashes  # it reads an index: imported where needed

            ok = coll.measured & np.asarray(coll.near_valid, dtype=bool)
            scale = scale_hashes(thumbs, np.minimum(h, w), ok).view(np.uint64)
            save("scale", "npy", lambda p: _save_npy(p, scale))
    save("flags", "npy", lambda p: _save_npy(p, flags))
    if coll.embeddings is not None:
        emb = np.ascontiguousarray(coll.embeddings, dtype=np.float32)
        save("embeddings", "npy", lambda p: _save_npy(p, emb))
        faiss = faiss_module()
        if faiss is not None and len(emb):
            save("faiss", "faiss", lambda p: faiss.write_index(_faiss_index(faiss, emb), str(p)))
    return names


def _save_npy(path: Path, arr: np.ndarray) -> None:
    with open(path, "wb") as fh:
        np.save(fh, arr)


def faiss_module() -> Any:
    """The faiss module when installed, else None."""
    from ..functional.knn import faiss_available

    if not faiss_available():
        return None
    import faiss

    return faiss


def normalised(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero), float32."""
    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norm, 1e-12)


def _faiss_index(faiss: Any, emb: np.ndarray) -> Any:
    index = faiss.IndexFlatIP(emb.shape[1])
    index.add(normalised(emb))
    return index


def read_rows(path: Path, columns: list[str] | None = None) -> dict[str, np.ndarray]:
    """Columns of a rows file as numpy arrays (a fixed-size list column as ``(N, k)``)."""
    _, pq = pyarrow()
    return table_arrays(pq.read_table(path, columns=columns))


def table_arrays(table: Any) -> dict[str, np.ndarray]:
    """A pyarrow table of rows as numpy arrays (a fixed-size list column as ``(N, k)``)."""
    out: dict[str, np.ndarray] = {}
    for name in table.column_names:
        col = table.column(name).combine_chunks()
        if hasattr(col.type, "list_size"):
            out[name] = col.flatten().to_numpy(zero_copy_only=False).reshape(len(col), col.type.list_size)
        elif name in ("path", "status", "error"):
            out[name] = np.asarray(col.to_pylist(), dtype=object)
        else:
            out[name] = col.to_numpy(zero_copy_only=False)
    return out


def open_array(path: Path) -> np.ndarray:
    """A ``.npy`` file memory-mapped copy-on-write (read-only in effect, no copy made)."""
    return np.load(path, mmap_mode="c", allow_pickle=False)


def remove_unlisted(folder: Path, keep: set[str]) -> None:
    """Remove the files of older generations (and temp files of a killed writer)."""
    for p in folder.iterdir():
        stem = p.name.lstrip(".")
        if p.name in keep or not p.is_file():
            continue
        if stem.split("-", 1)[0] in ("rows", "hashes", "flags", "crops", "scale", "embeddings", "faiss") or p.name.endswith(
            ".tmp"
        ):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
