"""``DataAudit(device="tpu")`` names the argument (it raised torch's ``RuntimeError: Expected one of
cpu, cuda, ...``); ``--outlier-method`` has a help text like the other audit options."""

from __future__ import annotations

import argparse

import pytest
import torch

from dataeval_gpu.batching import resolve_device
from dataeval_gpu.cli_args import add_audit_options
from dataeval_gpu.errors import InvalidArgumentError


@pytest.mark.parametrize("device", ["tpu", "gpu", "cuda:x", "", "cpu:zero"])
def test_unknown_device_names_the_argument(device: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        resolve_device(device)
    msg = str(info.value)
    assert msg.startswith(f"device={device!r} is not a device name") and "'cpu', 'cuda', 'cuda:N'" in msg, msg
    assert isinstance(info.value, ValueError)


def test_data_audit_unknown_device() -> None:
    from dataeval_gpu.audit import DataAudit

    with pytest.raises(InvalidArgumentError, match=r"^device='tpu' is not a device name"):
        DataAudit(device="tpu")


def test_known_devices_still_resolve() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert resolve_device(None) == torch.device("cpu")


def test_command_line_keeps_its_device_message(capsys: pytest.CaptureFixture[str]) -> None:
    from dataeval_gpu.cli import main

    try:
        status = main(["scan", "--device", "tpu", "--no-progress"])
    except SystemExit as exc:
        status = exc.code
    err = capsys.readouterr().err
    assert status == 2 and "--device tpu: not a device name (expected cpu, cuda, cuda:N, ...)" in err, err


def test_every_audit_option_has_help() -> None:
    p = argparse.ArgumentParser()
    add_audit_options(p)
    missing = [a.option_strings for a in p._actions if a.option_strings and a.option_strings != ["-h", "--help"]
               and not a.help]  # fmt: skip
    assert missing == []
    method = next(a for a in p._actions if "--outlier-method" in a.option_strings)
    assert "modified z-score" in method.help and "%(default)s" in method.help
    assert "modzscore" in p.format_help()
