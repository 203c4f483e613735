"""Which files a scan reads: folders, ImageFolder-style class trees and file lists.

:func:`find_inputs` (and :func:`discover`, its tuple form) lists every entry of a folder that
could be an image — named like one (:data:`IMAGE_LIKE_SUFFIXES`) or opening like one
(:func:`image_magic`), broken links, pipes, unreadable files and folders named like images
included — so that :mod:`~dataeval_gpu.io` decodes it or fails it with the reason; the files
neither named nor encoded like an image are skipped and named.  No torch here: the command
line checks a file list before anything heavy is imported.  ``docs/inputs.md`` has the rules.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .file_kinds import IMAGE_EXTENSIONS
from .file_lists import image_magic, is_text_file, read_file_list

__all__ = [
    "IMAGE_LIKE_SUFFIXES",
    "NON_IMAGE_SUFFIXES",
    "SCAN_OUTPUT_FILES",
    "SCAN_OUTPUT_MARKERS",
    "SCAN_RESULT_FILES",
    "Inputs",
    "discover",
    "find_inputs",
    "image_magic",
    "text_path",
    "write_skipped",
]

logger = logging.getLogger(__name__)

#: suffixes of image formats, decodable here or not: a folder scan lists every such file (one
#: it cannot decode fails with the reason); a file with any other suffix is listed only when
#: its first bytes are an image's (:func:`image_magic`)
IMAGE_LIKE_SUFFIXES = frozenset(IMAGE_EXTENSIONS) | frozenset(
    {
        ".jpe", ".jfif", ".jif", ".pjpeg", ".pjp", ".jp2", ".j2k", ".jpf", ".jpx", ".jxl", ".heic", ".heif",
        ".avif", ".svg", ".svgz", ".ico", ".cur", ".icns", ".pbm", ".pnm", ".pam", ".pfm", ".tga", ".dib",
        ".pcx", ".psd", ".dds", ".xbm", ".xpm", ".eps", ".qoi", ".exr", ".hdr", ".apng", ".dng", ".cr2",
        ".nef", ".arw", ".raw", ".sgi", ".rgb", ".ras", ".fits", ".fit", ".im", ".msp", ".emf", ".wmf",
    }
)  # fmt: skip
#: files next to images that are not images (metadata): a folder scan leaves them out
NON_IMAGE_SUFFIXES = frozenset(
    {".txt", ".json", ".csv", ".md", ".xml", ".yaml", ".yml", ".npy", ".npz", ".parquet", ".log"}
)
#: the files every ``dataeval-gpu scan`` writes: a sub-folder holding them all is an earlier
#: scan's output (its plots are not part of the data) and a folder scan does not enter it
SCAN_OUTPUT_MARKERS = ("summary.json", "findings.json", "config.json")
# what a scan writes beside them that a folder scan would list (the rest is metadata: .json, .csv, ...)
SCAN_OUTPUT_FILES = ("report.html", "plots", "checkpoint.pt", "checkpoint.pt.tmp")
# its results files (metadata by their suffixes): where the folder scanned is the output folder, not
# counted as metadata beside the images (they are the earlier scan's, replaced by this one's)
SCAN_RESULT_FILES = (
    *SCAN_OUTPUT_MARKERS,
    *(f"{name}.{ext}" for name in ("results", "quality_issues") for ext in ("csv", "json", "parquet")),
    "skipped.txt",
)
#: a dataset index (``--index DIR``): its manifest beside ``rows-<generation>.parquet`` files
INDEX_MARKER = "manifest.json"


def text_path(path: str | os.PathLike | bytes) -> str:
    """``path`` as text that can be written: a file name that is not UTF-8 (Latin-1 bytes from an
    old archive, which Python keeps as lone surrogates, ``'\\udcff'``) has its odd bytes written as
    ``\\xff`` (``bad\\xffname.jpg``) instead of failing every UTF-8 writer; other paths unchanged."""
    if not isinstance(path, str):  # a Path (DataAudit.update(paths=...)), bytes
        path = os.fsdecode(path) if isinstance(path, (bytes, os.PathLike)) else str(path)
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return path


@dataclass
class Inputs:
    """What :func:`find_inputs` lists: the inputs (each one ends up measured or failed), their
    labels and class names, and the files a folder scan skipped as not images (by name and
    content), never silently: the CLI names them and writes them to ``skipped.txt``."""

    files: list[str]
    labels: list[int]
    class_names: list[str]
    skipped: list[str]
    #: a file list's relative paths found in neither place looked: {path: the reason naming both}
    not_found: dict[str, str] = field(default_factory=dict)
    #: the metadata files a folder scan left out (:data:`NON_IMAGE_SUFFIXES`: .txt, .json, ...)
    metadata: list[str] = field(default_factory=list)
    #: the dataset index folders inside the folder, not entered (their files are not the data)
    index_folders: list[str] = field(default_factory=list)

    def name_missing(self, files: Sequence[str], failed: dict[int, str]) -> None:
        """Give the inputs ``files`` (the dataset indices' paths) that failed as missing and are
        in :attr:`not_found` its reason, naming both places looked (in place)."""
        for i, reason in failed.items():
            f = files[i] if 0 <= i < len(files) else None
            if f in self.not_found and "no such file" in reason:  # "FileNotFoundError: no such file (..."
                failed[i] = reason[: reason.index("no such file")] + self.not_found[f]

    def skipped_summary(self, top: int = 6) -> str:
        """``"2294 files (.dat 120, .frag 30, ...)"``: the skipped files by suffix, most first."""
        return by_suffix(self.skipped, top)

    def metadata_summary(self, top: int = 6) -> str:
        """``"952 files (.txt 952)"``: the metadata files left out, by suffix; ``""``: none."""
        return by_suffix(self.metadata, top) if self.metadata else ""


def by_suffix(files: Sequence[str], top: int = 6) -> str:
    """``"2294 files (.dat 120, .frag 30, ...)"``: ``files`` counted by suffix, most first."""
    from collections import Counter

    by = Counter(Path(f).suffix.lower() or "(no suffix)" for f in files).most_common()
    kinds = ", ".join(f"{k} {n}" for k, n in by[:top]) + (", ..." if len(by) > top else "")
    return f"{len(files)} file{'s' if len(files) != 1 else ''} ({kinds})"


def discover(
    root: str | os.PathLike | Sequence[str | os.PathLike],
    class_folders: bool | None = None,
    out: str | os.PathLike | None = None,
) -> tuple[list[str], list[int], list[str]]:
    """Files, labels and class names of a folder, an ImageFolder-style tree or a file list
    (:func:`find_inputs` without its list of skipped files; a warning counts them)."""
    found = find_inputs(root, class_folders, out)
    if found.skipped:
        logger.warning(
            "%s: skipped %s: neither named nor encoded like an image", root, found.skipped_summary()
        )
    return found.files, found.labels, found.class_names


def find_inputs(
    root: str | os.PathLike | Sequence[str | os.PathLike],
    class_folders: bool | None = None,
    out: str | os.PathLike | None = None,
    exclude: Sequence[str | os.PathLike] = (),
) -> Inputs:
    """Files, labels and class names of a folder, an ImageFolder-style tree or a file list.

    ``root`` may be a folder, one image file, a text file listing one path per line, or a
    list of paths.  Everything listed is an input: it ends up measured or failed with a reason.

    * **Folder** (walked recursively, symbolic links followed, loops once): every entry named
      like an image (:data:`IMAGE_LIKE_SUFFIXES`: .jpg, .png, .webp, .tif, .heic, .svg, ...)
      counts, whatever it is — a regular file, a broken symbolic link, a named pipe, a folder
      (``x.jpg/``) — so that a bad one shows up as failed; so does a file under any other name
      whose first bytes are an image's (:func:`image_magic`) or that cannot be read, and a
      sub-folder that cannot be read.  Left out: hidden entries (name starting with "."; hidden
      folders are not entered), metadata next to the images (:data:`NON_IMAGE_SUFFIXES`: .txt,
      .json, .csv, ...), an earlier scan's output folder inside it (with a warning), a dataset
      index inside it (``--index``: a folder with a ``manifest.json`` and ``rows-*.parquet``, or
      one of ``exclude``; with a warning, listed in :attr:`Inputs.index_folders`), and the
      files neither named nor encoded like an image (fonts, shaders, archives, ...: listed in
      :attr:`Inputs.skipped`).  Sorted by path.
    * **File list** (a text file whose name is not an image's; a line starting with ``#`` is a comment): taken
      as given.  A relative path is looked up in the current working directory first, then
      in the list's own folder; when neither holds it, it stays relative to the working
      directory (and fails as missing; :attr:`Inputs.not_found` holds the reason naming both
      places, which the command line gives it).
    * **One image file** (named like an image, or whose first bytes are not text).

    ``class_folders=None`` means: labels from the first sub-folder level when every file
    sits exactly one level down (an ImageFolder tree), else no labels (-1).

    ``out``: the scan's output folder. When it is the folder scanned (``scan . --out .``), the
    files an earlier scan wrote there (``report.html``, ``plots/``, the checkpoint) are left out.
    """
    if isinstance(root, (list, tuple)):
        files = [str(p) for p in root]
        return Inputs(files, [-1] * len(files), [], [])
    r = Path(root)
    if r.is_file():
        if r.suffix.lower() in IMAGE_LIKE_SUFFIXES or not is_text_file(r):
            return Inputs([str(r)], [-1], [], [])
        files, not_found = read_file_list(r)
        return Inputs(files, [-1] * len(files), [], [], not_found)
    if not r.is_dir():
        raise FileNotFoundError(f"no such folder or file list: {root}")
    indexes: list[Path] = []  # the index folders found inside, not entered
    paths, folders, skipped, metadata = _walk(r, out, exclude, indexes)
    found_indexes = [str(p) for p in indexes]
    rel = {p: p.relative_to(r).parts for p in paths}
    rel_depth = {len(rel[p]) for p in paths if p not in folders}
    use_classes = class_folders if class_folders is not None else (rel_depth == {2})
    files = [str(p) for p in paths]
    left_out = [str(p) for p in skipped]
    if not use_classes:
        if class_folders is None:
            _warn_almost_a_class_tree(root, [rel[p] for p in paths if p not in folders])
        return Inputs(files, [-1] * len(files), [], left_out, metadata=[str(p) for p in metadata], index_folders=found_indexes)
    names = sorted({rel[p][0] for p in paths if len(rel[p]) > 1} | set(_empty_class_folders(r, out, exclude)))
    lookup = {n: i for i, n in enumerate(names)}
    labels = [lookup.get(rel[p][0], -1) if len(rel[p]) > 1 else -1 for p in paths]
    return Inputs(files, labels, names, left_out, metadata=[str(p) for p in metadata], index_folders=found_indexes)


def _empty_class_folders(
    root: Path, out: str | os.PathLike | None = None, exclude: Sequence[str | os.PathLike] = ()
) -> list[str]:
    """The sub-folders of a class tree with nothing in them (hidden entries aside): classes with
    no image, listed with 0 images (and numbered as torchvision's ``ImageFolder`` numbers them),
    with a warning; a folder holding other files (a ``docs/`` of notes) is not a class, nor the
    scan's output folder or one of ``exclude`` (an ``--index`` folder made before the scan)."""
    empty = []
    try:
        with os.scandir(root) as it:
            subs = sorted(e.name for e in it if not e.name.startswith(".") and e.is_dir())
        for name in subs:
            if any(_same_folder(root / name, Path(o)) for o in (*([out] if out is not None else []), *exclude)):
                continue  # this scan's own output folder / index, made before the scan (``scan . --out o``)
            with os.scandir(root / name) as it:
                if not any(not e.name.startswith(".") for e in it):
                    empty.append(name)
    except OSError:  # a folder that cannot be read is listed (and failed) by the walk
        return []
    if empty:
        logger.warning(
            "%s: %d class folder%s hold%s no image (%s): listed with 0 images",
            root,
            len(empty),
            "s" if len(empty) != 1 else "",
            "" if len(empty) != 1 else "s",
            ", ".join(empty[:5]) + (", ..." if len(empty) > 5 else ""),
        )
    return empty


def _same_folder(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:  # the output folder does not exist yet
        return False


def _warn_almost_a_class_tree(root: str | os.PathLike, rel: list[tuple[str, ...]]) -> None:
    """Warn when most files sit one folder down in two or more folders (a class tree) but some
    do not, so that no labels are taken: a stray file silently dropped every label."""
    down = [r for r in rel if len(r) == 2]
    if len({r[0] for r in down}) < 2 or 2 * len(down) < len(rel):
        return
    off = [os.path.join(*r) for r in rel if len(r) != 2]
    logger.warning(
        "%s: no class labels from the folder names: %d of %d files are not exactly one folder down (%s%s); "
        "put every file in a class folder to label them",
        root,
        len(off),
        len(rel),
        ", ".join(off[:3]),
        ", ..." if len(off) > 3 else "",
    )


def _not_an_image(path: Path) -> bool:
    """True for a regular file whose name and first bytes are not an image's (a folder scan
    skips it and says so); a file that cannot be read is not skipped: it fails with the reason."""
    try:
        with open(path, "rb") as f:
            head = f.read(24)
    except OSError:
        return False
    return not image_magic(head)


def _walk(
    root: Path,
    scan_out: str | os.PathLike | None = None,
    exclude: Sequence[str | os.PathLike] = (),
    indexes: list[Path] | None = None,
) -> tuple[list[Path], set[Path], list[Path], list[Path]]:
    """The entries a folder scan lists (see :func:`discover`), sorted, which are folders, the
    files skipped as neither named nor encoded like an image (sorted) and the metadata files
    left out (:data:`NON_IMAGE_SUFFIXES`, in walk order).

    Symbolic links to folders are followed; a link back to one of its own parent folders (a
    loop) is not entered again.  Two links to the same folder list its files twice (two inputs).
    A sub-folder holding an earlier scan's output (:data:`SCAN_OUTPUT_MARKERS`) is skipped
    with a warning, so that scanning a folder twice does not measure the first scan's plots (no
    warning for ``scan_out``, this scan's own output folder: ``scan data --out data/out`` leaves it
    out every time, as it should, and saying so on every later scan was noise);
    where ``root`` is ``scan_out`` (``scan . --out .``: the folder is also this scan's output folder),
    an earlier scan's :data:`SCAN_OUTPUT_FILES` there are left out, with a warning, and its
    :data:`SCAN_RESULT_FILES` are not counted as metadata.
    A sub-folder that is a dataset index (one of ``exclude``, or with :data:`INDEX_MARKER` and
    ``rows-*.parquet`` files) is not entered either, with a warning; it is appended to ``indexes``.
    """
    given = [Path(g) for g in exclude]
    own = Path(scan_out) if scan_out is not None else None
    root_is_out = own is not None and _same_folder(root, own)
    out: list[Path] = []
    skipped: list[Path] = []
    metadata: list[Path] = []
    folders: set[Path] = set()
    stack: list[tuple[Path, frozenset[tuple[int, int]]]] = [(root, frozenset())]
    while stack:
        d, parents = stack.pop()
        try:
            st = d.stat()
            key = (st.st_dev, st.st_ino)
            if key in parents:
                continue
            with os.scandir(d) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            if d == root:
                raise
            out.append(d)  # a folder that cannot be read: listed, so it is failed with the reason
            folders.add(d)
            continue
        if all(any(e.name == m for e in entries) for m in SCAN_OUTPUT_MARKERS):
            if d != root:
                if own is None or not _same_folder(d, own):  # another scan's output: say what was left out
                    logger.warning("%s: not scanned, it is the output folder of an earlier scan", d)
                continue
            # the folder scanned is this scan's --out, and an earlier scan's: leave out its own files
            mine = [e for e in entries if e.name in SCAN_OUTPUT_FILES] if root_is_out else []
            if root_is_out:  # its results files: neither scanned nor counted as metadata beside the images
                entries = [e for e in entries if e.name not in SCAN_RESULT_FILES or not e.is_file()]
            if mine:
                entries = [e for e in entries if e.name not in SCAN_OUTPUT_FILES]
                logger.warning(
                    "%s: holds an earlier scan's output; its %s not scanned",
                    d,
                    ", ".join(e.name + ("/" if e.is_dir() else "") for e in mine),
                )
        if d != root and _is_index(d, entries, given):
            if indexes is not None:
                indexes.append(d)
            logger.warning("%s: not scanned, it is a dataset index (--index)", d)
            continue
        inside = parents | {key}
        for e in reversed(entries):  # reversed: the stack pops them in name order
            if e.name.startswith("."):
                continue
            p = Path(e.path)
            try:
                is_dir = e.is_dir()  # follows symbolic links
            except OSError:
                is_dir = False
            if is_dir:
                if p.suffix.lower() in IMAGE_LIKE_SUFFIXES:
                    out.append(p)  # a folder named like an image: failed, and its files are walked too
                    folders.add(p)
                stack.append((p, inside))
            elif p.suffix.lower() in IMAGE_LIKE_SUFFIXES:
                out.append(p)  # a broken link, a pipe, an unreadable or bad file: failed with the reason
            elif p.suffix.lower() in NON_IMAGE_SUFFIXES:
                metadata.append(p)  # counted in the printout's last lines and config.json
            elif _is_regular(e) and not _not_an_image(p):
                out.append(p)  # an image under another name (or a file that cannot be read)
            else:
                skipped.append(p)
    # an unreadable folder named like an image is appended twice (as a name, then as unreadable)
    return sorted(set(out)), folders, sorted(skipped), metadata


def _is_index(d: Path, entries: list[os.DirEntry], given: list[Path]) -> bool:
    """True for a dataset index folder: one of ``given`` (``--index`` / ``--against``), or one
    holding :data:`INDEX_MARKER` and ``rows-*.parquet`` files."""
    names = {e.name for e in entries}
    if INDEX_MARKER in names and any(n.startswith("rows-") and n.endswith(".parquet") for n in names):
        return True
    return any(_same_folder(d, g) for g in given)


def _is_regular(e: os.DirEntry) -> bool:
    try:
        return e.is_file()  # follows symbolic links: a link to a file is one
    except OSError:
        return False


def write_skipped(found: Inputs, path: Path, warn: bool = True) -> str:
    """Write the files a folder scan skipped as not images to ``path`` (``OUT/skipped.txt``: one
    path per line; an earlier scan's list is removed when nothing is skipped) and say so in a
    warning (``warn``; the command's printout says it in its last lines instead).  Returns the
    short summary ("3 files (.ttf 2, .dat 1)"), "" when nothing was skipped."""
    if not found.skipped:
        path.unlink(missing_ok=True)
        return ""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(text_path(f) + "\n" for f in found.skipped), encoding="utf-8")
    summary = found.skipped_summary()
    if warn:
        logger.warning("skipped %s: neither named nor encoded like an image (listed in %s)", summary, path)
    return summary
