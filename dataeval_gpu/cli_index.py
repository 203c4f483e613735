"""The lines ``dataeval-gpu scan`` prints about a dataset index: what ``--index`` measured, kept and
dropped; the copies, outliers and quality issues ``--against`` found against the index (the first
15 of each; all of them in ``findings.json`` and ``results.csv``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .wording import counted

__all__ = ["index_lines"]


def _here(path: Any) -> str:
    """A partner's path as the user can open it from here: relative to the current folder when
    it lies inside it (``photos/p3.png``), else as the index holds it (absolute: the index's rows
    are joined to the folder it was updated from)."""
    text = str(path)
    if os.path.isabs(text):
        here = os.getcwd()
        if os.path.commonpath([here, text]) == here:
            return os.path.relpath(text, here)
    return text


def index_lines(report: Any) -> list[str]:
    """What ``--index`` measured, kept and dropped; the copies, outliers and quality issues
    ``--against`` found against the index: the lines the command prints (``""`` a blank line)."""
    from .audit.report import format_value

    out: list[str] = []

    up = report.config.get("index_update")
    if up:
        out.append("")
        out.append(
            f"index {report.config['index']}: {_files(up['measured'])} measured, {up['kept']} kept, "
            f"{up['dropped']} dropped ({_files(up['files'])}, generation {up['generation']})"
        )
    matches = report.against.get("matches", []) if report.against else []
    if matches:
        out += ["", f"copies in the index {report.against['index']} ({len(matches)}):"]
        for m in matches[:15]:
            extra = "".join(f", {k} {m[k]}" for k in ("hamming", "cosine") if m.get(k) is not None)
            extra += f", {m['view']}" if m.get("view") not in (None, "whole") else ""  # a crop matched
            name = Path(report.paths.get(m["image"], str(m["image"]))).name
            partner = _here(m["partner_path"])
            out.append(f"  {m['image']}:{name} = {partner} ({'+'.join(m['methods'])}{extra})")
        if len(matches) > 15:
            out.append(f"  ... and {len(matches) - 15} more (see findings.json)")
    ag = report.against or {}
    ranges = _index_ranges(report) if ag.get("outliers") else {}
    # the measured values: the Linter's, rounded to 2 decimals, can round back inside the range
    outliers = report.issue_values(ag["outliers"]) if ag.get("outliers") else {}
    ranges_of = _ranges_of_images(report, ranges)
    out += _listed(
        f"outliers of the index {ag.get('index')}",
        [
            (i, ", ".join(_why(k, v, r, format_value) for k, v in m.items()))
            for i, m in outliers.items()
            for r in (ranges_of(i),)
        ],
        report.paths,
        "results.csv, index_outlier_flags",
    )
    out += _listed(
        f"quality issues against the index {ag.get('index')}",
        [(i, "; ".join(q["why"])) for i, q in ag.get("quality", {}).items()],
        report.paths,
        "results.csv, index_quality_issues",
    )
    return out


def _files(n: int) -> str:
    return f"{n} file" + ("" if n == 1 else "s")


def _index_ranges(report: Any) -> dict[str, tuple[float, float]]:
    """The range of each metric's values outside which the flags against the index lie: the default
    preset's (``report.against["ranges"]``, its rule's: far out and rare among the indexed images on
    the metric's robust scale), else from the reference figures the scan judged the outliers by
    (``report.against["reference"]``; the index is not read again: it may have been replaced
    since); {} without them."""
    from .report.linter_ranges import reference_ranges

    config = report.config or {}
    against = report.against or {}
    if "ranges" in against:
        return {k: (float(lo), float(hi)) for k, (lo, hi) in against["ranges"].items()}
    reference = against.get("reference")
    if not reference:
        return {}
    return reference_ranges(reference, config.get("outlier_method") or "modzscore", config.get("outlier_threshold"))


def _ranges_of_images(report: Any, ranges: dict[str, tuple[float, float]]) -> Any:
    """A function of an image's index: ``ranges`` with ``zero``'s for the image's channel count
    where the new images' counts differ (the images' positions looked up once, not per image)."""
    per = (report.against or {}).get("ranges_zero") or {}
    channels = (report.stats or {}).get("channels") if per else None
    if channels is None:
        return lambda image: ranges
    pos = {int(i): k for k, i in enumerate(report.index.tolist())}

    def of(image: int) -> dict[str, tuple[float, float]]:
        if int(image) not in pos:
            return ranges
        count = int(channels[pos[int(image)]])
        bounds = per.get(count) or per.get(str(count))
        return {**ranges, "zero": tuple(bounds)} if bounds else ranges

    return of


def _why(name: str, value: Any, ranges: dict[str, tuple[float, float]], fmt: Any) -> str:
    from .report.linter_ranges import flag_reason

    why = flag_reason(value, ranges.get(name), fmt)
    return f"{name}={fmt(value)}" + (f" ({why})" if why else "")


def _listed(title: str, rows: list[tuple[int, str]], paths: dict, where: str, most: int = 15) -> list[str]:
    """``title (N images):`` then the first ``most`` rows as ``index:file name: text`` (nothing
    without rows); the rest are counted, with ``where`` they all are."""
    if not rows:
        return []
    out = ["", f"{title} ({counted(len(rows), 'image')}):"]
    out += [f"  {i}:{Path(paths.get(i, str(i))).name}: {text}" for i, text in rows[:most]]
    if len(rows) > most:
        out.append(f"  ... and {len(rows) - most} more (see {where})")
    return out
