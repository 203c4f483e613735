"""File lists (``dataeval-gpu scan list.txt``: one path per line) and the first bytes of a file:
which files open like an image (:func:`image_magic`), which are text (:func:`is_text_file`), and
the paths a list names (:func:`read_file_list`); :mod:`dataeval_gpu.discovery` uses them (moved
from there, which re-exports :func:`image_magic`)."""

from __future__ import annotations

import codecs
import locale
import logging
import os
from pathlib import Path

from .errors import InvalidArgumentError
from .file_kinds import sniff, utf8_text
from .gimp_pattern import gimp_magic

__all__ = ["TEXT_PROBE", "UTF16_BOMS", "image_magic", "is_text_file", "odd_bytes_text", "read_file_list"]

logger = logging.getLogger("dataeval_gpu.discovery")  # its warnings read as discovery's, as before


def image_magic(head: bytes) -> bool:
    """True when ``head`` (a file's first 24 bytes or more) opens like an image file: JPEG, PNG,
    GIF, WebP, TIFF, BMP, ICO/CUR, PNM/PAM, JPEG 2000, JPEG XL, HEIF/AVIF, PSD, QOI, OpenEXR,
    GIMP's brushes and patterns (``.gbr``, ``.pat``)."""
    if sniff(head) in ("jpeg", "png", "gif", "webp", "svg"):
        return True
    return gimp_magic(head) or (
        head[:4] in (b"II*\x00", b"MM\x00*", b"8BPS", b"qoif", b"v/1\x01", b"\xffO\xffQ")
        or head[:2] in (b"BM", b"\xff\x0a")
        or head[:4] in (b"\x00\x00\x01\x00", b"\x00\x00\x02\x00")
        or (len(head) > 2 and head[0:1] == b"P" and head[1:2] in b"1234567" and head[2:3] in b" \t\r\n")
        or head[4:12] in (b"jP  \r\n\x87\n", b"JXL \r\n\x87\n")
        or (head[4:8] == b"ftyp" and head[8:12] in (b"avif", b"avis", b"heic", b"heix", b"mif1", b"msf1"))
    )


#: bytes read to tell a file list from a binary file whose first bytes are text but not UTF-8 (a PDF's
#: ``%PDF-1.7\n%\xb5\xb5``): a list's bytes hold no control byte but tab and line ends
TEXT_PROBE = 1 << 16
#: the byte-order marks of UTF-16 (Windows PowerShell 5's ``dir -Name > list.txt`` writes UTF-16 LE)
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 13)) + b"\x7f"
_ASCII = bytes(range(128))


def is_text_file(path: Path) -> bool:
    """True when the file's first bytes are text (a file list), not an image or other binary: UTF-8
    (with or without a byte-order mark), UTF-16 with its byte-order mark, or mostly ASCII with a few
    bytes that are not UTF-8 (:func:`odd_bytes_text`, then over its first :data:`TEXT_PROBE` bytes)."""
    with open(path, "rb") as f:
        head = f.read(64)
        if head[:2] in UTF16_BOMS:
            return _utf16_text(head, final=False) is not None
        if not head or sniff(head) == "text" or utf8_text(head):
            return True
        return odd_bytes_text(head) and odd_bytes_text(head + f.read(TEXT_PROBE))


def odd_bytes_text(head: bytes) -> bool:
    """Text with a few bytes that are not UTF-8 (a list of paths naming a Latin-1 file, ``caf\\xe9.jpg``,
    as ``find`` writes it): no image's first bytes, no control byte but tab and line ends, and at least
    three quarters ASCII."""
    if image_magic(head) or any(c in head for c in _CONTROL):
        return False
    return len(head.translate(None, _ASCII)) <= 0.25 * len(head)  # the bytes over 127: at most a quarter


def _utf16_text(raw: bytes, final: bool = True) -> str | None:
    """UTF-16 text after its byte-order mark, with no control character but tab and line ends; None
    otherwise (a character cut at the end of ``raw`` is fine unless ``final``)."""
    try:
        text = codecs.getincrementaldecoder("utf-16")().decode(raw, final=final)
    except UnicodeDecodeError:
        return None
    return None if any(c in text for c in _CONTROL.decode("ascii")) else text


def _names_text(raw: bytes) -> str:
    """A list's bytes that are not UTF-8 as the names they are: the file system's decoding (on POSIX
    the bytes kept as surrogate escapes, so the very name opens, as a folder scan's); where that refuses
    them (Windows, whose names are Unicode: such bytes are the ANSI code page's), the locale's encoding."""
    try:
        return os.fsdecode(raw)
    except UnicodeDecodeError:
        return raw.decode(locale.getpreferredencoding(False), "replace")


def read_file_list(path: Path) -> tuple[list[str], dict[str, str]]:
    """The paths a text file lists, relative ones resolved as :func:`discover` documents, and
    the reasons of the relative ones found in neither place ({path: reason}).  Text is UTF-8 (a
    byte-order mark dropped), UTF-16 with its byte-order mark, or names that are not UTF-8
    (:func:`odd_bytes_text`, read with their own bytes); a file holding a control byte anywhere
    (but tab and line ends) is binary, not a list: :class:`~dataeval_gpu.errors.InvalidArgumentError`."""
    raw = path.read_bytes()
    if raw[:2] in UTF16_BOMS:
        text = _utf16_text(raw)
    elif any(c in raw for c in _CONTROL):  # NUL is UTF-8 too: a binary file whose first bytes are text
        text = None
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            # a name that is not UTF-8 (caf\xe9.jpg): its bytes kept, as a folder scan's
            text = _names_text(raw.removeprefix(codecs.BOM_UTF8)) if odd_bytes_text(raw) else None
    if text is None:
        raise InvalidArgumentError(f"{path}: not a text file of paths (control bytes, or text in no encoding a list is read in) and not named like an image")
    base = path.parent
    files, not_found = [], {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        line = _unquoted(line, base)
        p = Path(line).expanduser()
        if not p.is_absolute() and not os.path.lexists(p):
            if os.path.lexists(base / p):
                p = base / p
            else:
                not_found[str(p)] = _not_found_reason(Path.cwd() / p, base.absolute() / p)
        hint = _comment_hint(line, base) if not os.path.lexists(p) else ""
        if hint:  # "a.jpg  # note": a '#' after the path is part of the name
            not_found[str(p)] = not_found.get(str(p), "no such file") + hint
        files.append(str(p))
    _warn_list_oddities(path, files)
    return files, not_found


def _unquoted(line: str, base: Path) -> str:
    """A file list's line without the quotes around it (``"/data/a b.jpg"``, as a CSV writer or a
    shell quotes a path with spaces) when the quoted text names no file and the path inside does
    (each such line failed as a missing file whose name began with a quote)."""
    if len(line) < 3 or line[0] != line[-1] or line[0] not in "\"'":
        return line
    inner = Path(line[1:-1]).expanduser()
    if os.path.lexists(line) or os.path.lexists(base / line):
        return line
    if os.path.lexists(inner) or (not inner.is_absolute() and os.path.lexists(base / inner)):
        return line[1:-1]
    return line


def _comment_hint(line: str, base: Path) -> str:
    """For a file list's line that names no file but whose text before a ``" #"`` does (``a.jpg  # the
    cat``): that a ``#`` starts a comment only at the start of a line (a name may hold one); else ``""``."""
    before = line.split(" #", 1)[0].strip() if " #" in line else ""
    p = Path(before).expanduser() if before else None
    if p is None or not (os.path.lexists(p) or (not p.is_absolute() and os.path.lexists(base / p))):
        return ""
    return f"; a '#' starts a comment only at the start of a line, and {before!r} before it is a file: put the comment on a line of its own"


def _not_found_reason(in_cwd: Path, in_list_folder: Path) -> str:
    """Why a file list's relative path is missing: the places looked, once when they are one."""
    if os.path.normpath(in_cwd) == os.path.normpath(in_list_folder):
        return (
            "no such file: a relative path, looked for in the current directory, which is the "
            f"file list's folder ({in_cwd})"
        )
    return (
        f"no such file: a relative path, looked for in the current directory ({in_cwd}) "
        f"and in the file list's folder ({in_list_folder})"
    )


def _warn_list_oddities(path: Path, files: list[str]) -> None:
    """Warn about a list whose lines carry a label after the path (``img.jpg 3``: every such line
    fails as a missing file) and about files listed more than once (each is one more input)."""
    labelled = [f for f in files if not os.path.lexists(f) and _path_then_label(f, path.parent)]
    if labelled:
        logger.warning(
            "%s: %d line%s like 'path label' (%s): a file list holds one path per line, so each "
            "fails as a missing file; write the paths alone (labels come from class folders)",
            path,
            len(labelled),
            "s look" if len(labelled) != 1 else " looks",
            labelled[0],
        )
    seen: dict[str, int] = {}
    for f in files:
        key = os.path.normpath(os.path.abspath(f))
        seen[key] = seen.get(key, 0) + 1
    repeated = [k for k, n in seen.items() if n > 1]
    if repeated:
        logger.warning(
            "%s: %d file%s listed more than once (%s): each line is one input, so they are exact "
            "duplicates of themselves",
            path,
            len(repeated),
            "s are" if len(repeated) != 1 else " is",
            repeated[0],
        )


def _path_then_label(line: str, base: Path) -> bool:
    """``"a/b.jpg 3"``, ``"a/b.jpg,cat"``: an existing file (here or in ``base``) followed by a
    separator and a word."""
    for sep in ("\t", ",", ";", " "):
        head, found, tail = line.rpartition(sep)
        head = head.strip()
        if found and head and tail.strip() and (os.path.isfile(head) or (base / head).is_file()):
            return True
    return False
