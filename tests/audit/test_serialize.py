"""``dumps_with_records``: ``json.dumps(doc, indent=1)``'s text, the per-image records through json's C encoder."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from dataeval_gpu.audit.serialize import dumps_with_records, jsonable


def _records(n: int) -> list[dict]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        out.append(
            {
                "index": i,
                "path": f'dir/ä "q" {i}\n.jpg',
                "ok": bool(i % 2),
                "missing": None,
                "x": float(rng.normal()) * 10.0 ** int(rng.integers(-12, 12)),
                "big": 2**62 + i,
                "nan": math.nan if i == 3 else 0.5,
                "inf": -math.inf if i == 4 else 1e300,
            }
        )
    return out


@pytest.mark.parametrize("n", [1, 2, 57])
def test_same_text_as_json_dumps_with_indent(n: int) -> None:
    doc = {
        "summary": {"a": [1, 2, {"b": None}], "c": {}},
        "empty": [],
        "config": {"t": 1.25},
        "images": _records(n),
    }
    assert dumps_with_records(doc, "images", default=jsonable) == json.dumps(doc, indent=1, default=jsonable)
    only = {"images": _records(n)}
    assert dumps_with_records(only, "images") == json.dumps(only, indent=1)
    assert json.loads(dumps_with_records(doc, "images"))["images"][0]["path"] == 'dir/ä "q" 0\n.jpg'


@pytest.mark.parametrize(
    "doc",
    [
        {"a": 1, "images": [{"x": [1, 2]}]},  # a nested value: the plain path
        {"a": 1, "images": [{"x": {"y": 1}}]},
        {"a": 1, "images": [{}]},
        {"a": 1, "images": []},
        {"images": [{"x": 1}], "after": 2},  # not the last key
        {"a": 1, "images": [1, 2]},
        {"a": 1, "images": [{"x": np.float32(0.5)}]},  # through ``default``
    ],
)
def test_other_shapes_fall_back_to_json_dumps(doc: dict) -> None:
    assert dumps_with_records(doc, "images", default=jsonable) == json.dumps(doc, indent=1, default=jsonable)


def test_write_with_records_in_chunks_is_the_same_text() -> None:
    """Chunk by chunk (any split, empty chunks, nested values, no records at all) the text is
    json.dumps(doc, indent=1)'s."""
    from dataeval_gpu.audit.serialize import write_with_records

    recs = [{"i": i, "x": i / 3, "p": f"a{i}.jpg"} for i in range(7)] + [{"i": 7, "l": [1, 2], "d": {"k": None}}]
    head = {"summary": {"n": 8}, "config": [1, "two"]}
    want = json.dumps({**head, "images": recs}, indent=1)
    for split in ([recs], [recs[:3], [], recs[3:]], [[r] for r in recs]):
        parts: list[str] = []
        write_with_records(parts.append, head, "images", split)
        assert "".join(parts) == want
    for h in (head, {}):
        parts = []
        write_with_records(parts.append, h, "images", [[], []])
        assert "".join(parts) == json.dumps({**h, "images": []}, indent=1)


def test_results_json_written_in_chunks(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """AuditReport.to_json to a file, a few rows per chunk, is the same text as in one piece."""
    from dataeval_gpu.audit import DataAudit
    from dataeval_gpu.audit import report as report_mod

    rng = np.random.default_rng(0)
    audit = DataAudit()
    audit.update([rng.integers(0, 256, (3, 20, 24), dtype=np.uint8) for _ in range(7)])
    rep = audit.compute()
    text = rep.to_json()
    monkeypatch.setattr(report_mod, "JSON_CHUNK", 3)
    assert rep.to_json(tmp_path / "r.json") == str(tmp_path / "r.json")
    assert (tmp_path / "r.json").read_text() == text
    assert len(json.loads(text)["images"]) == 7


def test_jsonable_gives_strict_json_for_non_finite_values():
    """findings.json's ``against`` (the 0.65 reference of an index: a float16 overflow's mean inf,
    std NaN) went out as bare NaN / Infinity, which strict JSON readers reject."""
    import torch

    doc = {
        "mean": math.inf,
        "std": math.nan,
        "ok": 1.5,
        "arr": np.array([1.0, np.inf, np.nan]),
        "ints": np.array([1, 2]),
        "t": torch.tensor([0.5, float("-inf")]),
        "np": np.float32("nan"),
        "nested": [{"x": -math.inf}],
    }
    out = jsonable(doc)
    assert out == {
        "mean": None,
        "std": None,
        "ok": 1.5,
        "arr": [1.0, None, None],
        "ints": [1, 2],
        "t": [0.5, None],
        "np": None,
        "nested": [{"x": None}],
    }
    text = json.dumps(out, allow_nan=False)  # raises on any NaN / inf left
    assert json.loads(text)["arr"] == [1.0, None, None]
