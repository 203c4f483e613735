"""review24: what landed in session 12 (blockicons18, newuser13, split18), reviewed.

* ``blockiness``' torch path (the GPU's) copied host tensors to the device on every batch - the
  JPEG-grid index tensors (``pixels.block_lines`` / ``block_phases``, ``quality_torch._border_sides``)
  and ``grid_share``'s phase index and counts: a pageable host-to-device copy waits for the device's
  queue (a host sync per batch).  Run on ``meta`` tensors, every op is seen: no CPU tensor may enter.
* File lists: a binary file whose first 64 bytes are text that is not UTF-8 (a PDF) was taken for a
  list and the scan refused as a whole; one with valid UTF-8 text and control bytes further on (NUL is
  UTF-8) was read as a list of garbage; a UTF-16 list (Windows PowerShell 5's ``>``) was scanned as
  one image; on Windows ``os.fsdecode`` refuses bytes that are not UTF-8 (an uncaught error).
* ``DataAudit.near_search`` was built once in ``__init__``: a ``near_radius`` set afterwards reached
  the exact / 0.65 groups but not the near search.
"""

from __future__ import annotations

import codecs
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from dataeval_gpu.discovery import find_inputs
from dataeval_gpu.errors import InvalidArgumentError
from dataeval_gpu.functional import quality_torch
from dataeval_gpu.functional.pixels import BLOCK_PHASE_GROUPS, block_lines, block_phases


class _CopiesToDevice(TorchDispatchMode):
    """Records every op that reads a CPU tensor and writes a tensor on another device."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        out = func(*args, **(kwargs or {}))
        ins = [t for t in tree_leaves((args, kwargs or {})) if isinstance(t, torch.Tensor)]
        outs = [t for t in tree_leaves(out) if isinstance(t, torch.Tensor)]
        if any(t.device.type == "cpu" for t in ins) and any(t.device.type != "cpu" for t in outs):
            self.ops.append(str(func))
        return out


@pytest.mark.parametrize("shape", [(2, 1, 72, 80), (1, 1, 64, 9), (3, 1, 130, 64)])
def test_blockiness_copies_nothing_to_the_device(shape: tuple[int, ...]) -> None:
    g = torch.empty(shape, device="meta")
    with _CopiesToDevice() as seen:
        figures = quality_torch.block_figures(g)
        value = quality_torch.blockiness(g)
    assert seen.ops == []  # before: 8 copies in block_figures, 12 in blockiness (72 x 80)
    assert value.device.type == "meta" and all(f.device.type == "meta" for f in figures)


@pytest.mark.parametrize("size", [*range(0, 40), 64, 65, 257])
def test_block_line_indices_are_the_mask_definition(size: int) -> None:
    """The device-built indices equal the boolean-mask selection they replace (ascending, int64)."""
    n = max(size - 1, 0)
    phase = (np.arange(n) + 1) % 8
    on, other = block_lines(size, torch.device("cpu"))
    assert on.tolist() == np.flatnonzero(phase == 0).tolist() and on.dtype == torch.int64
    assert other.tolist() == np.flatnonzero(phase != 0).tolist() and other.dtype == torch.int64
    for group, got in zip(BLOCK_PHASE_GROUPS, block_phases(size, torch.device("cpu"))):
        assert got.tolist() == np.flatnonzero(np.isin(phase, group)).tolist()


def test_grid_share_torch_equals_the_compiled_figure_on_noise() -> None:
    """The torch ``grid_share`` (counts by arithmetic now) against the compiled kernel and a count by
    hand of the segments per phase (72 x 80: 9 rows of blocks x 78 positions j in 1..77, 10 columns of
    blocks x 70 positions)."""
    from dataeval_gpu.functional import quality_block_compiled, quality_compiled

    g = np.random.default_rng(5).uniform(0, 255, (72, 80)).astype(np.float32)
    seg = torch.from_numpy(g)[None, None]
    ph = torch.zeros(1, 8, dtype=torch.float64)
    pn = [0] * 8
    quality_torch._phase_hits(torch.zeros(1, 9, 79, dtype=torch.float64), ph, pn)  # noqa: SLF001
    want = [9 * sum((j + 1) % 8 == p for j in range(1, 78)) for p in range(8)]
    assert pn == want
    got = [float(x[0]) for x in quality_torch.block_figures(seg)]
    if quality_compiled.ready():
        assert tuple(got) == quality_block_compiled.block_figures(np.ascontiguousarray(g))


# ------------------------------------------------------------------------------------- file lists
def test_a_binary_file_opening_as_latin1_text_is_one_file_to_scan(tmp_path: Path) -> None:
    """A PDF (``%PDF-1.7``, four bytes over 127, then a compressed stream): before, taken for a list
    and the scan refused (``not a text file of paths``); now one file, failed by the scan as before
    newuser13."""
    pdf = tmp_path / "report.pdf"
    head = b"%PDF-1.7\n%\xb5\xb5\xb5\xb5\n1 0 obj\n<</Type/Catalog/Pages 2 0 R/Lang(en-GB)/StructTreeRoot 9 0 R>>\nendobj\n"
    assert len(head) > 64
    pdf.write_bytes(head + bytes(range(256)) * 4)
    assert find_inputs(str(pdf)).files == [str(pdf)]


def test_utf8_text_then_control_bytes_is_no_file_list(tmp_path: Path) -> None:
    """Valid UTF-8 (NUL and the other control bytes are UTF-8) after lines of paths: before, read as a
    list whose last line held NUL bytes; now refused as binary."""
    blob = tmp_path / "blob.dat"
    blob.write_bytes(b"abc/def.png\n" * 10 + bytes(range(128)))
    with pytest.raises(InvalidArgumentError, match="not a text file of paths"):
        find_inputs(str(blob))


def _two_pictures(tmp_path: Path) -> list[str]:
    from PIL import Image

    names = ["a.png", "b c.png"]
    for k, name in enumerate(names):
        Image.fromarray(np.full((8 + k, 9, 3), 40 * k, np.uint8)).save(tmp_path / name)
    return names


@pytest.mark.parametrize("bom", [codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE])
def test_a_utf16_list_with_windows_line_ends_is_read(tmp_path: Path, bom: bytes) -> None:
    """PowerShell 5's ``dir -Name > list.txt`` writes UTF-16 LE with its mark and CRLF: before, scanned
    as one image (unknown format)."""
    names = _two_pictures(tmp_path)
    codec = "utf-16-le" if bom == codecs.BOM_UTF16_LE else "utf-16-be"
    (tmp_path / "list.txt").write_bytes(bom + "\r\n".join(["# made on Windows", *names, ""]).encode(codec))
    found = find_inputs(str(tmp_path / "list.txt"))
    assert found.files == [str(tmp_path / n) for n in names] and not found.not_found


def test_a_utf8_list_with_a_bom_and_windows_line_ends_is_read(tmp_path: Path) -> None:
    names = _two_pictures(tmp_path)
    (tmp_path / "list.txt").write_bytes(codecs.BOM_UTF8 + "\r\n".join([*names, ""]).encode())
    assert find_inputs(str(tmp_path / "list.txt")).files == [str(tmp_path / n) for n in names]


def test_names_not_utf8_where_the_file_system_refuses_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On Windows ``os.fsdecode`` is UTF-8 with ``surrogatepass``: a Latin-1 byte raised
    UnicodeDecodeError out of the list's reading; now the locale's encoding (the ANSI code page)."""
    import locale

    def windows_fsdecode(name: bytes | str) -> str:
        return name if isinstance(name, str) else name.decode("utf-8", "surrogatepass")

    monkeypatch.setattr(os, "fsdecode", windows_fsdecode)
    monkeypatch.setattr(locale, "getpreferredencoding", lambda do_setlocale=True: "cp1252")
    (tmp_path / "list.txt").write_bytes(b"caf\xe9.png\r\na.png\r\n")
    found = find_inputs(str(tmp_path / "list.txt"))
    assert [Path(f).name for f in found.files] == ["caf\u00e9.png", "a.png"]


# ------------------------------------------------------------------------------------- DataAudit
def test_near_search_follows_the_radius_set_after_init() -> None:
    from dataeval_gpu.audit import DataAudit

    audit = DataAudit(device="cpu")
    assert audit.near_search.radius == audit.near_radius
    audit.near_radius = 0  # 0.65's exact-hash groups: the near search must use it too
    assert audit.near_search.radius == 0
    audit.d4 = False
    assert audit.near_search.windows is False


def test_near_duplicates_search_follows_its_hasher() -> None:
    from dataeval_gpu.detectors.near_duplicates import NearDuplicates

    nd = NearDuplicates(embedding_threshold=None)
    assert nd.search.radius == nd.hasher.radius and nd.search.windows
    nd.hasher.radius = 2
    assert nd.search.radius == 2
