"""Class-wise tables of the findings (pandas DataFrames), as in the Data Cleaning Guide.

Every table has one row per class and a ``Total`` row.  An image counts once for each
distinct class among its objects, so with detection labels (several objects per image) a
class column can sum to more than the ``Total`` row, which counts each image once.  Images
whose label holds no object are the ``(no objects)`` row; flagged images with no label at
all (labels known for other images only) are the ``(unlabelled)`` row.

Labels are anything :func:`~dataeval_gpu.labels.normalize_labels` reads: a list aligned with
the dataset indices, or an ``{index: label}`` dict (``AuditReport.labels``).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..labels import class_order, normalize_labels
from .page import format_number

__all__ = [
    "ClassSets",
    "NO_OBJECTS",
    "UNLABELLED",
    "class_sets",
    "class_wise_table",
    "cluster_by_class_table",
    "duplicate_groups_table",
    "duplicates_by_class_table",
    "flagged_by_metric",
    "flagged_images_table",
    "common_folder",
    "failure_kinds",
    "one_file_groups",
    "in_folder",
    "inside_folder",
    "metric_counts_table",
    "metric_summary_table",
]

NO_OBJECTS = "(no objects)"
UNLABELLED = "(unlabelled)"
TOTAL = "Total"


class ClassSets(dict):
    """What :func:`class_sets` returns: the tables take it in place of ``labels`` and use it as
    it is (a report reads its labels once for all its tables, not once a table: ~10 µs an
    image each time, a minute at 1,000,000 images)."""


def class_sets(labels: Any, class_names: Sequence[str] | None = None) -> ClassSets:
    """``{image index: distinct classes of its objects}`` (``[]`` for an image with no objects);
    a :class:`ClassSets` is returned as it is."""
    if isinstance(labels, ClassSets):
        return labels
    if labels is None:
        return ClassSets()
    if isinstance(labels, Mapping):
        raw = sorted(labels, key=int)
        per = normalize_labels([labels[k] for k in raw], class_names)
        keys = [int(k) for k in raw]
    else:
        per = normalize_labels(labels, class_names)
        keys = list(range(len(per)))
    distinct = lambda objs: list(dict.fromkeys(objs)) if len(objs) > 1 else list(objs)  # noqa: E731
    return ClassSets(zip(keys, map(distinct, per), strict=True))


def _classes_of(sets: Mapping[int, list[Hashable]], index: int) -> list[Hashable]:
    if index in sets:
        return list(sets[index]) or [NO_OBJECTS]
    return [UNLABELLED]


def _rows(
    sets: Mapping[int, list[Hashable]], class_names: Sequence[str] | None, extra: Iterable[int]
) -> list:
    """Row order: classes, then (no objects) / (unlabelled) when some image falls there."""
    classes = class_order((c for cs in sets.values() for c in cs), class_names)
    rows: list[Hashable] = [str(c) if not isinstance(c, str) else c for c in classes]
    if any(not cs for cs in sets.values()):
        rows.append(NO_OBJECTS)
    if any(i not in sets for i in extra):
        rows.append(UNLABELLED)
    return rows


def _key(c: Hashable) -> str:
    return c if isinstance(c, str) else str(c)


def group_label_counts(sets: Mapping[int, list[Hashable]], group: Iterable[int]) -> Counter[str]:
    """How many members of a duplicate group carry each class (``"cat"``, an image of several
    objects' classes as ``"cat-dog"``); more than one key: a copy labelled two ways (*mixed*)."""
    return Counter("-".join(map(_key, _classes_of(sets, int(i)))) for i in group)


def _images_per_row(sets: Mapping[int, list[Hashable]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for cs in sets.values():
        for c in cs or [NO_OBJECTS]:
            out[_key(c)] = out.get(_key(c), 0) + 1
    return out


def flagged_by_metric(issues: Mapping[int, Mapping[str, float]]) -> dict[str, list[int]]:
    """``{metric: [flagged image indices]}``, the guide's ``metrics`` dict (metrics sorted by name)."""
    out: dict[str, list[int]] = {}
    for i, group in issues.items():
        for m in group:
            out.setdefault(m, []).append(int(i))
    return {m: sorted(out[m]) for m in sorted(out)}


def metric_counts_table(
    issues: Mapping[int, Mapping[str, float]], n_images: int | None = None
) -> pd.DataFrame:
    """Images flagged per metric, most flagged first (the guide's ``metric - count`` list)."""
    by = flagged_by_metric(issues)
    rows = sorted(by.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    df = pd.DataFrame({"metric": [m for m, _ in rows], "flagged images": [len(v) for _, v in rows]})
    if n_images:
        df["% of images"] = (100.0 * df["flagged images"] / n_images).round(2)
    return df.set_index("metric")


def class_wise_table(
    issues: Mapping[int, Mapping[str, float]],
    labels: Any,
    class_names: Sequence[str] | None = None,
    *,
    metrics: Sequence[str] | None = None,
) -> pd.DataFrame:
    """For each class, how many of its images each metric flagged (the guide's class-wise table).

    Columns: one per metric (sorted by name, or ``metrics``), ``Total`` (the row's sum:
    flags, as in the guide), ``flagged images`` (distinct images of the class flagged by any
    metric), ``images`` (images of the class) and ``% flagged``.  The ``Total`` row counts
    distinct images.

    Examples
    --------
    >>> issues = {0: {"brightness": 0.9}, 2: {"brightness": 0.1, "zero": 0.5}}
    >>> class_wise_table(issues, [["cat", "dog"], ["cat"], ["dog"]]).loc[:, ["brightness", "zero", "Total"]]
           brightness  zero  Total
    cat             1     0      1
    dog             2     1      3
    Total           2     1      3
    """
    sets = class_sets(labels, class_names)
    by = flagged_by_metric(issues)
    cols = list(metrics) if metrics is not None else list(by)
    rows = _rows(sets, class_names, issues.keys())
    tally: Counter[tuple[str, str]] = Counter()  # (row, metric): one pandas cell update each was ~0.6 ms
    flagged: dict[str, set[int]] = {r: set() for r in rows}
    wanted = set(cols)
    for i, group in issues.items():
        i = int(i)
        for c in _classes_of(sets, i):
            k = _key(c)
            flagged[k].add(i)
            tally.update((k, m) for m in group if m in wanted)
    cells = np.zeros((len(rows), len(cols)), dtype=np.int64)
    at_row, at_col = {r: p for p, r in enumerate(rows)}, {m: p for p, m in enumerate(cols)}
    for (k, m), v in tally.items():
        cells[at_row[k], at_col[m]] = v
    counts = pd.DataFrame(cells, index=pd.Index(rows, name=None), columns=cols)
    per_row = _images_per_row(sets)
    df = counts.copy()
    df[TOTAL] = counts.sum(axis=1).astype(np.int64)
    df["flagged images"] = [len(flagged[r]) for r in rows]
    df["images"] = [per_row.get(r, len(flagged[r]) if r == UNLABELLED else 0) for r in rows]
    total = {m: len(by.get(m, [])) for m in cols}
    total[TOTAL] = int(sum(sum(1 for m in g if m in cols) for g in issues.values()))
    total["flagged images"] = sum(1 for g in issues.values() if any(m in cols for m in g))
    total["images"] = len(sets) + sum(1 for i in issues if int(i) not in sets)
    df.loc[TOTAL] = pd.Series(total)
    df = df.astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(df["images"] > 0, 100.0 * df["flagged images"] / df["images"].clip(lower=1), 0.0)
    df["% flagged"] = np.round(pct, 2)
    return df


def _group_members(groups: Iterable[Iterable[int]]) -> list[list[int]]:
    return [sorted(int(i) for i in g) for g in groups]


def duplicates_by_class_table(
    duplicates: Mapping[str, Sequence[Sequence[int]]],
    labels: Any,
    class_names: Sequence[str] | None = None,
    *,
    kinds: Sequence[str] = ("exact", "near"),
) -> pd.DataFrame:
    """For each class: duplicate groups touching it, its images in them, and mixed-label groups.

    ``duplicates`` is ``{"exact": [[i, ...]], "near": [[...]]}`` (``AuditReport.duplicates``)
    or the Clusterer's ``{"duplicates": ..., "potential_duplicates": ...}`` with ``kinds``
    naming the keys.  Per kind the columns are ``<kind> groups`` (groups with an image of
    the class), ``<kind> images`` (images of the class in such groups) and ``<kind> mixed``
    (those groups whose images do not all carry the same classes: a copy labelled two ways).
    The ``Total`` row counts each group and each image once.
    """
    sets = class_sets(labels, class_names)
    all_members = [i for k in kinds for g in duplicates.get(k, []) for i in g]
    rows = _rows(sets, class_names, all_members)
    data: dict[str, list[int]] = {}
    total: dict[str, int] = {}
    for kind in kinds:
        groups = _group_members(duplicates.get(kind, []))
        g_count = dict.fromkeys(rows, 0)
        i_count = dict.fromkeys(rows, 0)
        m_count = dict.fromkeys(rows, 0)
        mixed_total = 0
        for g in groups:
            member_cls = [tuple(sorted(map(_key, _classes_of(sets, i)))) for i in g]
            mixed = len(set(member_cls)) > 1
            mixed_total += mixed
            touched: set[str] = set()
            for i in g:
                for c in _classes_of(sets, i):
                    i_count[_key(c)] += 1
                    touched.add(_key(c))
            for k in touched:
                g_count[k] += 1
                m_count[k] += int(mixed)
        data[f"{kind} groups"] = [g_count[r] for r in rows]
        data[f"{kind} images"] = [i_count[r] for r in rows]
        data[f"{kind} mixed"] = [m_count[r] for r in rows]
        total[f"{kind} groups"] = len(groups)
        total[f"{kind} images"] = len({i for g in groups for i in g})
        total[f"{kind} mixed"] = mixed_total
    df = pd.DataFrame(data, index=pd.Index(rows))
    df.loc[TOTAL] = pd.Series(total)
    return df.astype(np.int64)


def duplicate_groups_table(
    duplicates: Mapping[str, Sequence[Sequence[int]]],
    labels: Any = None,
    class_names: Sequence[str] | None = None,
    paths: Mapping[int, str] | None = None,
    *,
    kinds: Sequence[str] = ("exact", "near"),
    names: Mapping[int, str] | None = None,
) -> pd.DataFrame:
    """One row per duplicate group: kind, size, indices, the classes of its images, mixed or not.
    ``names``: the members' paths as shown (:func:`inside_folder`), when already made."""
    sets = class_sets(labels, class_names) if labels is not None else {}
    if paths and names is None:
        members = {int(i) for k in kinds for g in duplicates.get(k, []) for i in g}
        names = inside_folder({int(i): str(p) for i, p in paths.items()}, only=members)
    names = names or {}
    rows = []
    for kind in kinds:
        for n, g in enumerate(_group_members(duplicates.get(kind, []))):
            row: dict[str, Any] = {
                "kind": kind,
                "group": n,
                "size": len(g),
                "indices": ", ".join(map(str, g)),
            }
            if sets:
                counts = group_label_counts(sets, g)
                row["classes"] = ", ".join(c if n == 1 else f"{c} ×{n}" for c, n in counts.items())
                row["mixed labels"] = len(counts) > 1
            if paths:
                row["files"] = ", ".join(names.get(i, "") for i in g)
            rows.append(row)
    cols = (
        ["kind", "group", "size", "indices"]
        + (["classes", "mixed labels"] if sets else [])
        + (["files"] if paths else [])
    )
    return pd.DataFrame(rows, columns=cols)


def inside_folder(paths: dict[int, str], only: Iterable[int] | None = None) -> dict[int, str]:
    """Each path relative to the folder all of them are in: file names alone are ambiguous (every
    plasma wallpaper pair read "2560x1600.jpg, screenshot.jpg").  ``only``: the indices wanted
    (the folder is still the one of every path)."""
    return in_folder(paths, common_folder(paths), only)


def common_folder(paths: dict[int, str]) -> str:
    """The folder all of ``paths`` are in (``""``: none, or one path: names shown alone).

    Absolute and relative paths mixed (a file list): the folder of the absolute ones and of the
    relative ones that exist here (resolved against the working directory); a relative path
    that does not exist here is left out of it (resolved against the working directory, a
    missing file named the folder it never was in: ``/`` beside a scanned folder, and every
    path shown from the root) and :func:`in_folder` shows it as given."""
    values = list(paths.values())
    try:
        root = os.path.commonpath(values) if len(paths) > 1 else ""
    except ValueError:  # absolute and relative paths mixed (a file list): the folder of them all
        known = [os.path.abspath(p) for p in values if os.path.isabs(p) or os.path.lexists(p)]
        try:  # (each file's name alone read "missing.png" for "mix/odd/missing.png")
            root = os.path.commonpath(known) if known else ""
        except ValueError:  # paths on different drives
            root = ""
        if len(known) == 1:
            root = os.path.dirname(root)
    if root and all(p == root for p in values):
        root = os.path.dirname(root)
    return root


def in_folder(paths: dict[int, str], root: str, only: Iterable[int] | None = None) -> dict[int, str]:
    """:func:`inside_folder` with the folder given (:func:`common_folder`, found once); a relative
    path that does not exist here, beside an absolute ``root``, is shown as given."""
    wanted = paths.items() if only is None else ((i, paths[i]) for i in only if i in paths)
    return {i: _shown_in(p, root) for i, p in wanted}


def _shown_in(p: str, root: str) -> str:
    if not root:
        return os.path.basename(p)
    if os.path.isabs(root) and not os.path.isabs(p) and not os.path.lexists(p):
        return p  # a file list's missing relative path: where it is not, as the list names it
    return os.path.relpath(p, root)


def one_file_groups(paths: Mapping[int, str], groups: Sequence[Sequence[int]]) -> int:
    """How many of ``groups`` are one file reached by several paths (symbolic links, hard links:
    the same device and inode); a path that cannot be read counts as a file of its own."""
    def key(i: int) -> Any:
        try:
            st = os.stat(paths[i])
            return (st.st_dev, st.st_ino)
        except (OSError, KeyError, ValueError):
            return ("?", i)

    return sum(1 for g in groups if len({key(int(i)) for i in g}) == 1)


def failure_kinds(failed: Mapping[int, str]) -> list[tuple[str, int]]:
    """The failures counted by kind of reason, most first: ``[("ValueError: unsupported format:
    SVG", 2571), ...]`` (a reason's first two parts, without a named target "(its ...)"; an
    unsupported format by its name)."""
    kinds: Counter[str] = Counter()
    for reason in failed.values():
        parts = str(reason).split(": ")
        keep = 3 if parts[1:2] == ["unsupported format"] else 2
        kinds[": ".join(parts[:keep]).split(" (")[0]] += 1
    return sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))


def cluster_by_class_table(
    clusters: Mapping[str, Any],
    labels: Any,
    class_names: Sequence[str] | None = None,
    *,
    embedded: Iterable[int] | None = None,
) -> pd.DataFrame:
    """For each class: Clusterer outliers, potential outliers and images in (potential) duplicate groups.

    Columns ``outliers``, ``potential outliers``, ``duplicate images``, ``potential duplicate
    images``, ``images`` (the images of the class that were clustered: ``embedded`` when the
    Clusterer saw a subset, else all) and ``% outliers``; the ``Total`` row counts distinct
    images.  Without ``embedded``, the keys of ``clusters["outlier_score"]`` (when it is a
    dict) are taken as the clustered images.
    """
    sets = class_sets(labels, class_names)
    if embedded is None and isinstance(clusters.get("outlier_score"), Mapping):
        embedded = clusters["outlier_score"].keys()
    members = {
        "outliers": sorted({int(i) for i in clusters.get("outliers", [])}),
        "potential outliers": sorted({int(i) for i in clusters.get("potential_outliers", [])}),
        "duplicate images": sorted({int(i) for g in clusters.get("duplicates", []) for i in g}),
        "potential duplicate images": sorted(
            {int(i) for g in clusters.get("potential_duplicates", []) for i in g}
        ),
    }
    flagged = {i for v in members.values() for i in v}
    seen = {int(i) for i in embedded} | flagged if embedded is not None else set(sets) | flagged
    rows = _rows(sets, class_names, flagged)
    data = {}
    for col, idx in members.items():
        cnt = dict.fromkeys(rows, 0)
        for i in idx:
            for c in _classes_of(sets, i):
                cnt[_key(c)] += 1
        data[col] = [cnt[r] for r in rows]
    per_row = _images_per_row({i: sets[i] for i in seen if i in sets})
    unl = {i for i in seen if i not in sets}
    data["images"] = [per_row.get(r, len(unl) if r == UNLABELLED else 0) for r in rows]
    df = pd.DataFrame(data, index=pd.Index(rows))
    total = {col: len(idx) for col, idx in members.items()}
    total["images"] = len(seen)
    df.loc[TOTAL] = pd.Series(total)
    df = df.astype(np.int64)
    df["% outliers"] = np.round(
        np.where(df["images"] > 0, 100.0 * df["outliers"] / df["images"].clip(lower=1), 0.0), 2
    )
    return df


def flagged_images_table(
    issues: Mapping[int, Mapping[str, float]],
    labels: Any = None,
    class_names: Sequence[str] | None = None,
    paths: Mapping[int, str] | None = None,
    limit: int | None = None,
    ranges: Mapping[str, tuple[float, float]] | None = None,
    reasons: Mapping[int, Mapping[str, str]] | None = None,
) -> pd.DataFrame:
    """One row per flagged image: its class(es), file, the flagged metrics with their values and,
    with ``ranges`` (:func:`~dataeval_gpu.report.linter_ranges.linter_ranges`), the side of the
    Linter's range each value lies on (``brightness=0 (< 0.213)``); ``reasons`` ({image index:
    {metric: "> 1.9"}}, :func:`~dataeval_gpu.report.linter_ranges.flag_reasons`: per image, e.g.
    ``zero`` by its channel count) before ``ranges``."""
    from .linter_ranges import flag_reason

    ranges, reasons = ranges or {}, reasons or {}
    sets = class_sets(labels, class_names) if labels is not None else {}
    rows = []
    for i, group in sorted(issues.items())[: limit if limit else None]:
        i = int(i)
        row: dict[str, Any] = {"index": i}
        if sets:
            row["class"] = "-".join(map(_key, _classes_of(sets, i)))
        if paths:
            row["file"] = str(paths.get(i, ""))
        row["flags"] = len(group)
        shown = []
        for m, v in group.items():
            text = f"{m}={format_number(v)}" if isinstance(v, float) else f"{m}={v}"
            why = reasons.get(i, {}).get(m) or flag_reason(v, ranges.get(m), format_number)
            shown.append(f"{text} ({why})" if why else text)
        row["metrics"] = ", ".join(shown)
        rows.append(row)
    cols = ["index"] + (["class"] if sets else []) + (["file"] if paths else []) + ["flags", "metrics"]
    return pd.DataFrame(rows, columns=cols).set_index("index")


def metric_summary_table(report: Any) -> pd.DataFrame:
    """min / median / max / flagged per metric, from an :class:`~dataeval_gpu.audit.AuditReport`."""
    metrics = report.summary_dict()["metrics"]
    df = pd.DataFrame.from_dict(metrics, orient="index", columns=["min", "median", "max", "flagged"])
    df.index.name = "metric"
    return df
