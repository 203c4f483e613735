"""What ``dataeval-gpu scan`` prints after a scan: the classes, the Linter's flagged images with
why, the quality issues, the duplicate groups (file names as text any terminal takes).  Each
function returns the lines; ``cli_results.print_results`` prints them."""

from __future__ import annotations

import copy
import unicodedata
from pathlib import Path
from typing import Any

from .wording import counted

__all__ = [
    "cluster_lines",
    "duplicate_lines",
    "failed_lines",
    "flagged_lines",
    "label_lines",
    "printable",
    "shown_path",
    "tail",
]


def flagged_lines(report: Any, most: int = 15, written: Any = None) -> list[str]:
    """The lines of the Linter's flagged images with their values, then the images with quality issues, each
    with why (its scores against the thresholds)."""
    from .report.tables import inside_folder

    lines: list[str] = []
    quality = report.quality.get("why", {}) if report.quality else {}
    named = [int(i) for i in list(report.issues)[:most]] + [int(i) for i in list(quality)[:most]]
    names = inside_folder(report.paths, only=named) if report.paths else {}  # in the scanned folder
    if report.issues:
        from .audit.report import format_value
        from .report.linter_ranges import flag_reasons

        values = list(report.issue_values().items())[:most]  # measured values, not 0.65's rounded ones
        # each value's side of the range the flags lie outside (the default preset's: its robust rule's)
        reasons = flag_reasons(report, [i for i, _ in values], format_value)
        lines.append(
            f"\nflagged by the linter ({counted(len(report.issues), 'image')}; each value against its metric's unflagged range):"
        )
        for i, m in values:
            name = names.get(int(i), "")
            why = reasons.get(int(i), {})
            shown = [f"{k}={format_value(v)}" + (f" ({why[k]})" if k in why else "") for k, v in m.items()]
            lines.append(f"  {i:>6} {cell(name)} " + ", ".join(shown))
        if len(report.issues) > most:
            lines.append(f"  ... and {len(report.issues) - most} more (see findings.json)")
    if not quality:
        return lines
    lines.append(f"\nquality issues ({counted(len(quality), 'image')}):")
    for i, reasons in list(quality.items())[:most]:
        name = names.get(int(i), "")
        lines.append(f"  {i:>6} {cell(name)} " + "; ".join(reasons))
    if len(quality) > most:
        where = see_files(written, "quality_issues", default="quality_issues.csv or .parquet")
        lines.append(f"  ... and {len(quality) - most} more (see {where})")
    return lines


def label_lines(report: Any, most: int = 10) -> list[str]:
    """The line of the classes taken from the folder names and their image counts (a flat folder: nothing)."""
    names = list(report.class_names or [])
    if not names:
        return []
    counts = [0] * len(names)
    for lab in report.labels.values():
        try:
            k = int(lab)  # an int or a numpy integer; -1: no label
        except (TypeError, ValueError):
            continue
        if 0 <= k < len(names):
            counts[k] += 1
    shown = ", ".join(f"{n} {c}" for n, c in list(zip(names, counts))[:most])
    more = f", ... ({len(names) - most} more)" if len(names) > most else ""
    return [
        f"labels: {len(names)} class{'es' if len(names) != 1 else ''} from the folder names ({shown}{more})"
    ]


def duplicate_lines(report: Any, most: int = 10, members_shown: int = 6) -> list[str]:
    """The lines of the first exact, near (hash) and embedding near duplicate groups, each file by its path in
    the scanned folder."""
    from .report.tables import class_sets, group_label_counts, inside_folder, one_file_groups

    shown = inside_folder(report.paths)  # "Autumn/.../2560x1600.jpg": many files share a name
    labels = getattr(report, "labels", None)
    sets = class_sets(labels, getattr(report, "class_names", None)) if labels else None
    titles = {"exact": "exact", "near": "near", "embedding": "embedding near"}
    lines: list[str] = []
    for kind, title in titles.items():
        groups = report.duplicates.get(kind, [])
        if groups:
            mixed = [len(group_label_counts(sets, g)) > 1 for g in groups] if sets else [False] * len(groups)
            lines.append(
                f"\n{title} duplicate groups ({len(groups)}"
                + (f"; {sum(mixed)} with different labels: one picture under two classes" if any(mixed) else "")
                + "):"
            )
            linked = one_file_groups(report.paths, groups) if kind == "exact" else 0
            if linked:  # openclipart-png: 867 of 942 groups were one file under several paths
                lines.append(
                    f"  ({linked} of them one file reached by several paths: symbolic or hard links; "
                    "still the same image more than once in the dataset)"
                )
            for g, two_ways in zip(groups[:most], mixed):  # a long group: its first members, then how many
                members = [f"{i}:{shown.get(i, str(i))}" for i in g[:members_shown]]
                lines.append(
                    "  "
                    + ", ".join(members)
                    + (f", ... ({len(g)} in all)" if len(g) > members_shown else "")
                    + (f"  [labels differ: {_label_counts(group_label_counts(sets, g))}]" if two_ways else "")
                )
            if len(groups) > most:
                lines.append(f"  ... and {len(groups) - most} more (see findings.json)")
    return lines


def _label_counts(counts: Any) -> str:
    """``cat 1, dog 2``: a duplicate group's classes, each with how many of its members carry it."""
    return ", ".join(f"{c} {n}" for c, n in counts.items())


def cluster_lines(report: Any, most: int = 15) -> list[str]:
    """The lines of the Clusterer's outliers, then its potential outliers, each by its path in the
    scanned folder (the summary counted them, but named none: they were in results.csv only)."""
    from .report.tables import inside_folder

    clusters = getattr(report, "clusters", None) or {}
    lines: list[str] = []
    for key, title in (("outliers", "cluster outliers"), ("potential_outliers", "cluster potential outliers")):
        members = [int(i) for i in clusters.get(key, [])]
        if not members:
            continue
        names = inside_folder(report.paths, only=members[:most]) if report.paths else {}
        lines.append(f"\n{title} ({counted(len(members), 'image')}):")
        lines += [f"  {i:>6} {names.get(i, '')}" for i in members[:most]]
        if len(members) > most:
            lines.append(f"  ... and {len(members) - most} more (see findings.json; cluster_{key} in results.csv)")
    return lines


def failed_lines(report: Any, most: int = 15, written: Any = None) -> list[str]:
    """The lines of the inputs that failed, each with its path and reason; past ``most``, how many
    more and how many failed for each kind of reason (``846 × ValueError: unsupported format: SVG``,
    ``15 × FileNotFoundError: broken symbolic link`` whatever the links' targets; the count first, so
    that it does not read as part of the reason), so that a folder of 800 SVG drawings does not
    read as 15 failures."""
    failed = report.failed or {}
    if not failed:
        return []
    from .report.tables import inside_folder

    # as the duplicate lines: by the path in the scanned folder
    shown = inside_folder(report.paths, only=list(failed)[:most]) if report.paths else {}
    lines = [f"\nfailed ({len(failed)}):"]
    for i, reason in list(failed.items())[:most]:
        lines.append(f"  {i:>6} {shown.get(i, '')}: {shown_path(reason)}")
    if len(failed) > most:
        more = len(failed) - most
        lines.append(f"  ... and {more} more (see {see_files(written, 'results', 'status failed in ', 'results.csv')})")
        from .report.tables import failure_kinds

        ranked = failure_kinds(failed)
        shown = ", ".join(f"{n} × {k}" for k, n in ranked[:5]) + (", ..." if len(ranked) > 5 else "")
        lines.append(f"  by reason: {shown}")
    return lines


def see_files(written: Any, table: str, how: str = "", default: str = "") -> str:
    """Where the rest is: ``findings.json`` and the ``table`` files the scan wrote (``written``: the
    paths :meth:`AuditReport.save` returns): its ``.csv`` / ``.parquet``, else its ``.json``;
    ``written=None``: ``default``."""
    if written is None:
        return "findings.json" + (f"; {how}{default}" if default else "")
    names = {Path(str(p)).name for p in dict(written).values()}
    tables = [f"{table}.{ext}" for ext in ("csv", "parquet") if f"{table}.{ext}" in names]
    tables = tables or [n for n in (f"{table}.json",) if n in names]
    return "findings.json" + (f"; {how}{' or '.join(tables)}" if tables else "")


def printable(report: Any) -> Any:
    """``report`` with its file names (and class names, the index's paths) as text that any
    terminal takes on one line: a name that is not UTF-8 has its odd bytes written as ``\\xe9``,
    a newline or other control character as ``\\n`` / ``\\x1b`` (:func:`shown_path`; a copy: the
    files written keep the real paths)."""
    paths = {i: shown_path(p) for i, p in report.paths.items()}
    names = [shown_path(n) for n in (report.class_names or [])]
    against = _shown_against(report.against)
    index = (report.config or {}).get("index")
    if (
        paths == report.paths
        and names == list(report.class_names or [])
        and against is report.against
        and (index is None or shown_path(index) == index)
    ):
        return report
    shown = copy.copy(report)
    shown.paths = paths
    if report.class_names:
        shown.class_names = names
    shown.against = against
    if index is not None:
        shown.config = {**report.config, "index": shown_path(index)}
    return shown


_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
#: the Unicode categories escaped: control characters (newline, escape, DEL, C1) and the line and paragraph separators
_BREAKING = ("Cc", "Zl", "Zp")


def shown_path(path: Any) -> str:
    """``path`` as one line of printable text: not-UTF-8 bytes as ``\\xe9``
    (:func:`~dataeval_gpu.discovery.text_path`), a newline as ``\\n``, a carriage return as
    ``\\r``, a tab as ``\\t``, other control or line-separating characters as ``\\x1b`` /
    ``\\u2028`` (as ``repr`` writes them); other characters unchanged (a full-width space too)."""
    from .discovery import text_path

    text = text_path(path)
    if text.isprintable():
        return text
    # only what breaks or garbles a line: a full-width or no-break space (not isprintable) stays
    return "".join(
        _ESCAPES.get(c) or repr(c)[1:-1] if unicodedata.category(c) in _BREAKING else c for c in text
    )


def _shown_against(against: Any) -> Any:
    """``report.against`` with the index's paths (its name, the partners' paths) as :func:`shown_path`
    writes them; the same object where none changes."""
    if not against:
        return against
    matches = against.get("matches", [])
    shown = [{**m, "partner_path": shown_path(m["partner_path"])} if "partner_path" in m else m for m in matches]
    index = against.get("index")
    if all(a is b or a == b for a, b in zip(shown, matches)) and (index is None or shown_path(index) == index):
        return against
    out = dict(against)
    out["matches"] = shown
    if index is not None:
        out["index"] = shown_path(index)
    return out


def _columns(ch: str) -> int:
    """The terminal columns a character takes: 2 for a wide (CJK) one, 0 for a combining mark."""
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def cell(path: str, width: int = 40) -> str:
    """``path`` as a column of ``width`` terminal columns: cut as :func:`tail` cuts it and padded,
    counting a wide character (``日本語.jpg``) as two columns, so that the text after it lines up
    (padding by characters shifted every later column of such a line)."""
    cols = [_columns(c) for c in path]
    used = sum(cols)
    if used > width:  # keep the end that fits beside the "..."
        keep, used = len(path), 3
        while keep > 0 and used + cols[keep - 1] <= width:
            keep -= 1
            used += cols[keep]
        path = "..." + path[keep:]
    return path + " " * (width - used)


def tail(path: str, width: int = 40) -> str:
    """The end of a long path, marked as cut ("...share/backgrounds/x.webp", not "r/share/...")."""
    return path if len(path) <= width else "..." + path[len(path) - width + 3 :]
