"""One helper turns the command-line options into DataAudit settings, for the command and for
scripts/torchrun_scan.py (they were two hand-written lists)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from dataeval_gpu.audit import DataAudit
from dataeval_gpu.cli_args import audit_kwargs, build_parser

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "torchrun_scan.py"


def _script_parser():
    spec = importlib.util.spec_from_file_location("torchrun_scan", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod._parser()


OPTIONS = [
    [],
    ["--radius", "7", "--hash", "dhash", "--no-d4", "--no-quality", "--outlier-method", "iqr"],
    ["--preset", "dataeval-0.65", "--no-hashes"],
]


@pytest.mark.parametrize("opts", OPTIONS, ids=["defaults", "changed", "preset"])
def test_command_and_script_give_the_same_audit_settings(opts: list[str]) -> None:
    cmd = audit_kwargs(build_parser().parse_args(["scan", "data", "--out", "o", *opts]))
    script = audit_kwargs(_script_parser().parse_args(["data", "--out", "o", *opts]))
    assert cmd == script
    a = DataAudit(**cmd)
    assert a.hashes is ("--no-hashes" not in opts)
    assert a.outlier_method == ("iqr" if "iqr" in opts else "modzscore")


def test_every_option_is_read() -> None:
    args = build_parser().parse_args(
        ["scan", "data", "--out", "o", "--radius", "3", "--hash", "dhash", "--d4", "--outlier-threshold", "2.5",
         "--quality-threshold", "blurry=0.3", "--outlier-method", "zscore"]  # fmt: skip
    )
    assert audit_kwargs(args) == {
        "hashes": True,
        "outlier_method": "zscore",
        "outlier_threshold": 2.5,
        "near_radius": 3,
        "hash": "dhash",
        "d4": True,
        "preset": "default",
        "quality": None,
        "quality_thresholds": {"blurry": 0.3},
    }
