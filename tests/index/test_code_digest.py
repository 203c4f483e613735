"""The index's metric digest covers the code under functional/, not only the metrics' own functions.

An index written before a kernel's constant changed (jpeg9's blockiness weight, review18's
small-image peak) held rows of the old values; the registered functions' source did not show
the change, so the index was read as comparable and old and new rows were mixed.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import dataeval_gpu.index.manifest as manifest
from dataeval_gpu.index import metric_definitions_digest
from dataeval_gpu.index.manifest import code_digest

FUNCTIONAL = Path(manifest.__file__).resolve().parents[1] / "functional"


def _tree(root: Path) -> Path:
    (root / "sub").mkdir(parents=True)
    (root / "a.py").write_text("LIMIT = 0.55\n\ndef f(x):\n    return x * LIMIT\n")
    (root / "sub" / "b.py").write_text("def g():\n    return 1\n")
    (root / "sub" / "notes.txt").write_text("not code")
    return root


def test_code_digest_is_the_files_bytes_and_paths(tmp_path):
    root = _tree(tmp_path / "one")
    # independent reference: sha256 over (relative path, NUL, sha256 of the bytes), paths sorted
    h = hashlib.sha256()
    for rel in ("a.py", "sub/b.py"):
        h.update(rel.encode() + b"\0")
        h.update(hashlib.sha256((root / rel).read_bytes()).digest())
    assert code_digest(root) == h.hexdigest()
    # the same tree elsewhere: the same digest; a file that is not a module does not count
    other = tmp_path / "two"
    shutil.copytree(root, other)
    (other / "sub" / "notes.txt").write_text("changed")
    assert code_digest(other) == code_digest(root)


def test_code_digest_changes_with_a_constant_or_a_moved_module(tmp_path):
    root = _tree(tmp_path / "t")
    before = code_digest(root)
    (root / "a.py").write_text((root / "a.py").read_text().replace("0.55", "0.5"))
    changed = code_digest(root)
    assert changed != before
    (root / "sub" / "b.py").rename(root / "b.py")
    assert code_digest(root) != changed


def test_metric_digest_reads_the_functional_code(monkeypatch):
    assert manifest._functional_digest() == code_digest(FUNCTIONAL)
    now = metric_definitions_digest()
    monkeypatch.setattr(manifest, "_functional_digest", lambda: "0" * 64)
    assert metric_definitions_digest() != now
