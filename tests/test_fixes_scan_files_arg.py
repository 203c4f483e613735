"""scan_files given one path (str, Path, bytes) raises ImageTypeError naming the calls that read it."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataeval_gpu.audit import scan_files
from dataeval_gpu.errors import DataEvalGPUError, ImageTypeError


@pytest.mark.parametrize("arg", ["odd", Path("odd"), b"odd"], ids=["str", "Path", "bytes"])
def test_one_path_is_an_image_type_error(arg: object) -> None:
    with pytest.raises(ImageTypeError) as err:
        scan_files(arg, workers=0, progress=False)
    msg = str(err.value)
    assert "got the path 'odd'" in msg
    assert "scan_files(dataeval_gpu.discovery.find_inputs('odd').files)" in msg
    assert "scan_files(['odd'])" in msg
    assert isinstance(err.value, DataEvalGPUError)


def test_a_list_of_one_missing_path_is_still_scanned(tmp_path) -> None:
    missing = str(tmp_path / "odd.png")
    report = scan_files([missing], workers=0, progress=False)
    assert list(report.failed) == [0]  # one failed file, not one per character
    assert report.failed[0].startswith("FileNotFoundError: no such file")
