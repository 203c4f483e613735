"""The files the docs say a run writes are the files it writes: README.md's ``make run``
(``dataeval-gpu scan --out out/scan``, the bundled photos) and docs/distributed.md's
``scripts/torchrun_scan.py`` (rank 0 of a world of one)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from tests.cli_run import run

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("one_thread")


def named_files(text: str) -> set[str]:
    return set(re.findall(r"`([\w.]+\.(?:csv|json|html|pkl|parquet))`", text))


def written_files(folder: Path) -> set[str]:
    """The files in ``folder`` but the hidden lock a scan holds while it writes (docs/usage.md)."""
    return {p.name for p in folder.iterdir() if p.is_file() and p.name != ".dataeval-gpu.lock"}


def test_make_run_writes_the_files_the_readme_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("skimage")
    readme = (ROOT / "README.md").read_text()
    make_run = re.search(
        r"^run: .*\n\t\$\(BIN\)/(dataeval-gpu .*)$", (ROOT / "Makefile").read_text(), flags=re.M
    )
    assert make_run and make_run.group(1) == "dataeval-gpu scan --out out/scan"
    sentence = re.search(r"writes `out/scan/`: (.*?)\(a self-contained", readme, flags=re.S)
    assert sentence, "README.md no longer says what make run writes"
    named = named_files(sentence.group(1))
    assert {"results.csv", "report.html", "quality_issues.csv"} <= named
    monkeypatch.chdir(tmp_path)
    status, out, err = run(["scan", "--out", "out/scan", "--limit", "4", "--no-progress"], capsys)
    assert status == 0, err
    assert written_files(tmp_path / "out" / "scan") == named
    assert f"results in out/scan/ ({', '.join(sorted(named))})" in out


def test_torchrun_scan_writes_the_files_distributed_md_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = (ROOT / "docs" / "distributed.md").read_text()
    sentence = re.search(r"Rank 0 writes\n?(.*?) to `--out`", doc, flags=re.S)
    assert sentence, "docs/distributed.md no longer says what rank 0 writes"
    named = named_files(sentence.group(1))
    spec = importlib.util.spec_from_file_location(
        "torchrun_scan_docscheck", ROOT / "scripts" / "torchrun_scan.py"
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)  # type: ignore[union-attr]
    out_dir = tmp_path / "audit_out"
    assert script.main(["--synthetic", "12", "--out", str(out_dir), "--workers", "0", "--no-progress"]) == 0
    assert written_files(out_dir) == named
    assert {"results.csv", "quality_issues.csv", "config.json"} <= named
