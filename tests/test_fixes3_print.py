"""A file name holding a newline (or another control character) is printed by ``dataeval-gpu scan``
escaped, ``a\\nb.png``, on one line, wherever the command prints it: the duplicate groups, the
failed files, the quality issues, the class names, the output folder."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from dataeval_gpu.cli_print import duplicate_lines, failed_lines, label_lines, printable, shown_path


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("a\nb.png", "a\\nb.png"),
        ("a\r\nb.png", "a\\r\\nb.png"),
        ("tab\there.png", "tab\\there.png"),
        ("esc\x1b[31mred.png", "esc\\x1b[31mred.png"),
        ("line\u2028sep.png", "line\\u2028sep.png"),
        ("plain name é.png", "plain name é.png"),
        ("全角\u3000空白\xa0nbsp.png", "全角\u3000空白\xa0nbsp.png"),  # not isprintable(), but one line: kept
        ("del\x7f\x85c1.png", "del\\x7f\\x85c1.png"),
        ("bad\udcffname.png", "bad\\xffname.png"),  # not UTF-8: as before
    ],
)
def test_shown_path_escapes_control_characters(name: str, shown: str) -> None:
    assert shown_path(name) == shown
    assert "\n" not in shown_path(name) and "\r" not in shown_path(name)


def test_printable_escapes_paths_classes_and_index_paths() -> None:
    report = SimpleNamespace(
        paths={0: "d/x\ny.png", 1: "d/ok.png"},
        class_names=["cl\nass"],
        labels={0: 0, 1: 0},
        duplicates={"exact": [[0, 1]]},
        failed={0: "OSError: bad\nthing"},
        against={"index": "ix\n", "matches": [{"image": 0, "partner_path": "p\nq.png"}]},
        config={"index": "ix\n"},
    )
    shown = printable(report)
    assert shown.paths == {0: "d/x\\ny.png", 1: "d/ok.png"}
    assert shown.class_names == ["cl\\nass"]
    assert shown.against["matches"][0]["partner_path"] == "p\\nq.png" and shown.against["index"] == "ix\\n"
    assert shown.config["index"] == "ix\\n"
    assert report.paths[0] == "d/x\ny.png" and report.against["matches"][0]["partner_path"] == "p\nq.png"
    lines = label_lines(shown) + duplicate_lines(shown) + failed_lines(shown)
    assert all("\n" not in ln.strip("\n") for ln in lines), lines
    assert "0:x\\ny.png" in " ".join(lines) and "OSError: bad\\nthing" in " ".join(lines)
    plain = SimpleNamespace(paths={0: "a.png"}, class_names=None, against={}, config={})
    assert printable(plain) is plain


def test_scan_prints_a_newline_name_on_one_line(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    """Before: ``0:dup`` and ``a.png`` on two lines of the duplicate groups, ``bro`` / ``ken.png:``
    on two lines of the failed files."""
    from PIL import Image

    from dataeval_gpu.cli import main

    d = tmp_path / "images"
    d.mkdir()
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (24, 20, 3), dtype=np.uint8)
    Image.fromarray(img).save(d / "dup\na.png")
    Image.fromarray(img).save(d / "dup_b.png")
    Image.fromarray(rng.integers(0, 256, (22, 26, 3), dtype=np.uint8)).save(d / "other.png")
    (d / "bro\nken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))  # a PNG cut short: fails
    out = tmp_path / "o\nut"
    argv = ["scan", str(d), "--out", str(out), "--workers", "0", "--no-plots", "--no-progress", "--device", "cpu"]
    capsys.readouterr()
    assert main(argv) == 0
    stdout = capsys.readouterr().out
    lines = stdout.splitlines()
    assert not any(ln.startswith(("a.png", "ken.png", "ut/")) for ln in lines), stdout
    dup = [ln for ln in lines if "2:dup_b.png" in ln]
    assert len(dup) == 1 and "1:dup\\na.png" in dup[0], stdout
    # the quality lines: by the path in the scanned folder (newuser5), on one line
    assert any(ln.split()[:2] == ["1", "dup\\na.png"] for ln in lines), stdout
    failed = [ln for ln in lines if "bro\\nken.png" in ln]
    assert len(failed) == 1 and failed[0].split("bro\\nken.png")[1].startswith(": "), stdout
    assert f"results in {str(out).replace(chr(10), chr(92) + 'n')}/" in lines[-1], stdout
    assert (out / "results.csv").exists()  # the files written keep the real name


def test_nothing_to_scan_warning_escapes_the_path(tmp_path, caplog: pytest.LogCaptureFixture) -> None:
    from dataeval_gpu.cli import _warn_nothing_to_scan

    folder = tmp_path / "emp\nty"
    folder.mkdir()
    with caplog.at_level("WARNING"):
        _warn_nothing_to_scan(str(folder))
    said = caplog.records[-1].getMessage()
    assert "emp\\nty: no files to scan" in said and "\n" not in said
