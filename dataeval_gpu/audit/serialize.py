"""JSON helpers of the audit outputs."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["dumps_with_records", "jsonable", "write_with_records"]


def jsonable(v: Any) -> Any:
    """``v`` with numpy / torch values, tuples and paths turned into JSON-able Python (a NaN or an
    infinity → None: strict JSON has neither, ``json.dumps`` would write ``NaN`` / ``Infinity``)."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, torch.Tensor):
        return jsonable(v.tolist()) if v.is_floating_point() else v.tolist()
    if isinstance(v, np.ndarray):
        finite = v.dtype.kind != "f" or bool(np.isfinite(v).all())
        return v.tolist() if finite else jsonable(v.tolist())
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v) if math.isfinite(float(v)) else None
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, Path):
        return str(v)
    return v


def _flat(rec: Any) -> bool:
    return isinstance(rec, dict) and bool(rec) and not any(isinstance(v, (dict, list, tuple)) for v in rec.values())


def _record_text(rec: Any, enc: json.JSONEncoder, default: Any) -> str:
    """One record as it sits at depth 2 of ``json.dumps(doc, indent=1)``."""
    if _flat(rec):
        return "  {\n   " + enc.encode(rec)[1:-1] + "\n  }"
    return "\n".join("  " + line for line in json.dumps(rec, indent=1, default=default).split("\n"))


def write_with_records(
    write: Callable[[str], Any], doc: dict[str, Any], key: str, chunks: Iterable[list[Any]], default: Any = None
) -> None:
    """Write ``json.dumps({**doc, key: records}, indent=1, default=default)``'s text through
    ``write``, the records (``key`` last) coming chunk by chunk: memory stays that of one chunk
    however many records there are (a million images' rows).  Flat dicts go through json's C
    encoder with the indented layout's separators; anything else through ``json.dumps``."""
    enc = json.JSONEncoder(separators=(",\n   ", ": "), default=default)
    if doc:
        head = json.dumps(doc, indent=1, default=default)
        write(head[:-2] + ",\n " + json.dumps(key) + ": [")  # head ends with "\n}"
    else:
        write("{\n " + json.dumps(key) + ": [")
    first = True
    for chunk in chunks:
        if not chunk:
            continue
        write(("\n" if first else ",\n") + ",\n".join(_record_text(r, enc, default) for r in chunk))
        first = False
    write("]\n}" if first else "\n ]\n}")


def dumps_with_records(doc: dict[str, Any], key: str, default: Any = None) -> str:
    """``json.dumps(doc, indent=1, default=default)``, the same text, faster when ``doc[key]``
    (its last key) is a long list of flat dicts (the per-image records of ``results.json``).

    With ``indent`` set, :mod:`json` encodes in pure Python (0.063 s of CPU time for the 604
    records of 75 values of the benchmark photos; 0.028 s here); without it, in C, with the
    separators taken verbatim (:func:`write_with_records`).  Falls back to ``json.dumps`` when
    ``doc[key]`` is not a list or ``key`` is not last.
    """
    records = doc.get(key)
    if not isinstance(records, list) or list(doc)[-1] != key:
        return json.dumps(doc, indent=1, default=default)
    parts: list[str] = []
    write_with_records(parts.append, {k: v for k, v in doc.items() if k != key}, key, [records], default)
    return "".join(parts)
