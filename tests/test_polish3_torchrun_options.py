"""scripts/torchrun_scan.py takes the command's --quality-threshold and --outlier-threshold (the
audit options are one list, cli_args.add_audit_options), and refuses the same contradictions."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from dataeval_gpu.cli_args import audit_kwargs, build_parser

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "torchrun_scan.py"


def _script():
    spec = importlib.util.spec_from_file_location("torchrun_scan_polish3", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


THRESHOLDS = ["--outlier-threshold", "2.5", "--quality-threshold", "dark=0.7", "--quality-threshold", "noisy=12",
              "--outlier-method", "zscore"]  # fmt: skip


def test_script_reads_the_thresholds_as_the_command_does() -> None:
    script = audit_kwargs(_script()._parser().parse_args(["data", "--out", "o", *THRESHOLDS]))
    command = audit_kwargs(build_parser().parse_args(["scan", "data", "--out", "o", *THRESHOLDS]))
    assert script == command
    assert script["outlier_threshold"] == 2.5
    assert script["outlier_method"] == "zscore"
    assert script["quality_thresholds"] == {"dark": 0.7, "noisy": 12.0}


@pytest.mark.parametrize(
    ("opts", "said"),
    [
        (["--outlier-threshold", "0"], "expected a finite number > 0"),
        (["--quality-threshold", "shiny=1"], "unknown quality issue 'shiny'"),
        (["--no-quality", "--quality-threshold", "dark=0.7"], "the quality issues are off (--no-quality)"),
        (["--no-hashes", "--radius", "3"], "--no-hashes and --radius"),
    ],
)
def test_script_refuses_what_the_command_refuses(
    opts: list[str], said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        _script().main(["--synthetic", "5", "--out", str(tmp_path / "o"), *opts])
    assert exc.value.code == 2
    assert said in capsys.readouterr().err


@pytest.mark.integration
def test_script_scan_uses_the_thresholds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One process (no torchrun): the settings reach the audit (config.json records them)."""
    out = tmp_path / "o"
    assert _script().main(["--synthetic", "24", "--out", str(out), "--workers", "0", "--no-progress", *THRESHOLDS]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["outlier_threshold"] == 2.5
    assert config["outlier_method"] == "zscore"
    assert config["quality_thresholds"] == {"dark": 0.7, "noisy": 12.0}
    assert "24 images" in capsys.readouterr().out
