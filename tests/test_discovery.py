"""File lists (dataeval_gpu.discovery): the warnings about lines that are not one path each."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from dataeval_gpu.discovery import find_inputs, text_path


def test_a_list_of_path_and_label_lines_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """``train.txt`` with "img.jpg 3" lines (ImageNet's layout): every line failed as a missing file
    with no hint why. The lines are still inputs as given, and a warning says what is wrong."""
    (tmp_path / "a.png").write_bytes(b"")
    (tmp_path / "b c.png").write_bytes(b"")  # a space in a file name is not a label
    lst = tmp_path / "train.txt"
    lst.write_text("a.png 3\nb c.png\nb c.png\t7\n")
    with caplog.at_level(logging.WARNING, logger="dataeval_gpu.discovery"):
        found = find_inputs(lst)
    assert [Path(f).name for f in found.files] == ["a.png 3", "b c.png", "b c.png\t7"]
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and "2 lines look like 'path label'" in said[0] and "one path per line" in said[0]


def test_a_file_listed_twice_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch) -> None:
    """The same file by a relative and an absolute path is two inputs, an "exact duplicate" of
    itself; a warning names it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.png").write_bytes(b"")
    (tmp_path / "b.png").write_bytes(b"")
    lst = tmp_path / "list.txt"
    lst.write_text(f"a.png\n{tmp_path / 'a.png'}\n./b.png\n")
    with caplog.at_level(logging.WARNING, logger="dataeval_gpu.discovery"):
        found = find_inputs(lst)
    assert len(found.files) == 3
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and f"1 file is listed more than once ({tmp_path / 'a.png'})" in said[0]


def test_text_path() -> None:
    assert text_path("caf\udce9/x.png") == "caf\\xe9/x.png"
    assert text_path("café/写真.png") == "café/写真.png"
    assert text_path(Path("a") / "b.png") == str(Path("a/b.png"))  # DataAudit.update(paths=[Path(...)])
    assert text_path(b"caf\xe9.png") == "caf\\xe9.png"


def test_an_empty_class_folder_is_a_class_with_no_image(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A class folder left empty (a failed download) vanished from the classes, and every later
    class's number shifted against torchvision's ``ImageFolder``. It is listed, with a warning; a
    folder of notes and this scan's own output folder are not classes."""
    from PIL import Image

    tv = pytest.importorskip("torchvision.datasets")
    for cls in ("cat", "dog"):
        (tmp_path / cls).mkdir()
        Image.new("RGB", (8, 8)).save(tmp_path / cls / "1.png")
    (tmp_path / "cow").mkdir()  # empty, between the two
    want = tv.ImageFolder(str(tmp_path), allow_empty=True)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.md").write_text("not a class")
    (tmp_path / "out").mkdir()  # made by the scan before it lists the folder
    with caplog.at_level(logging.WARNING, logger="dataeval_gpu.discovery"):
        found = find_inputs(tmp_path, out=tmp_path / "out")
    assert found.class_names == want.classes == ["cat", "cow", "dog"]
    assert found.labels == [label for _, label in want.samples] == [0, 2]
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and "1 class folder holds no image (cow)" in said[0]



def test_a_loop_of_symbolic_links_is_a_failed_input_that_says_so(tmp_path: Path) -> None:
    """Links named like images that point at each other (``a.jpg`` -> ``b.jpg`` -> ``a.jpg``)
    failed with ``OSError: [Errno 40] Too many levels of symbolic links``: now the reason says
    what they are.  Links that lead nowhere under other names are skipped, and listed as such."""
    import os

    import numpy as np
    from PIL import Image

    from dataeval_gpu.audit import scan_files

    Image.fromarray(np.full((12, 12), 90, np.uint8)).save(tmp_path / "ok.png")
    os.symlink("b.jpg", tmp_path / "a.jpg")
    os.symlink("a.jpg", tmp_path / "b.jpg")
    os.symlink("self.png", tmp_path / "self.png")  # points at itself
    os.symlink("loop", tmp_path / "loop")  # no image name
    found = find_inputs(tmp_path)
    assert [Path(f).name for f in found.files] == ["a.jpg", "b.jpg", "ok.png", "self.png"]
    assert [Path(f).name for f in found.skipped] == ["loop"]
    report = scan_files(found.files, workers=0, progress=False)
    assert report.index.tolist() == [2]
    assert report.failed == {
        0: "OSError: a loop of symbolic links (its target 'b.jpg' leads back to it): not read",
        1: "OSError: a loop of symbolic links (its target 'a.jpg' leads back to it): not read",
        3: "OSError: a loop of symbolic links (its target 'self.png' leads back to it): not read",
    }
