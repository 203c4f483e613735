"""The report's section on duplicates: every group the scan found - exact copies, near duplicates
by hash and near duplicates by embedding - each with the method that found it, its score (the
Hamming distance of the near hashes, the cosine similarity of the embeddings: :mod:`.dup_groups`)
and its images side by side (one small JPEG strip per group, each image decoded once)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import tables
from .context import ReportContext, Section, grid_figure
from .dup_groups import KINDS, DuplicateGroup, report_groups
from .grids import GridSpec, file_cells, label_text, short_text
from .page import esc, note, table_html

__all__ = ["MAX_SHOWN", "MAX_STRIP_IMAGES", "STRIP_THUMB", "duplicates_section", "group_strip_spec", "near_rule"]

#: images shown in one group's strip (the rest counted as ``+k more``; all of them in the table)
MAX_SHOWN = 12
#: strips per row of images
STRIP_COLUMNS = 6
#: distinct images all the strips show at most (their thumbnails are kept in memory, ~200 KB each);
#: the groups past it are listed without pictures (every group is in the table)
MAX_STRIP_IMAGES = 600
#: the cell of one image in a strip, in inches (100 px each), its two title lines included
STRIP_CELL = (1.7, 2.0)
#: the longest side a strip's picture needs (an image shown in no other grid is decoded this small)
STRIP_THUMB = 160

#: how each kind is introduced
HEADINGS = {
    "exact": "Exact duplicates",
    "near": "Near duplicates (hash)",
    "embedding": "Near duplicates (embedding)",
}


def near_rule(config: dict[str, Any]) -> str:
    """How the near duplicates were matched, from the run's settings (``near_radius``, ``hash``,
    ``d4``, ``near_crops``, ``quality``: the thumbnail verification)."""
    from ..detectors.near_duplicates import UNVERIFIED_RADIUS

    radius = int(config.get("near_radius") or 0)
    name = str(config.get("hash") or "pchash") + (" D4 (flip/rotation-invariant)" if config.get("d4") else "")
    rule = f"{name} hashes within Hamming distance {radius}" if radius else f"identical {name} hashes"
    crops = config.get("near_crops") or []
    if crops:
        rule += ", also of the central " + " and ".join(f"{round(100 * c)} %" for c in crops)
    if crops and radius and config.get("quality"):  # the audit's near groups: thumbnails kept and checked
        rule += "; each pair verified on the 32 × 32 grey thumbnails of the two images"
        if radius > UNVERIFIED_RADIUS:
            rule += f" (one that cannot be, such as of images under 33 px, only within distance {UNVERIFIED_RADIUS})"
    return rule


def _embedding_rule(config: dict[str, Any]) -> str:
    """How the embedding near duplicates were matched: with the grey thumbnails where the run kept
    them (hashes on, with the central crops or the quality issues), else on the embeddings alone."""
    from ..detectors.embedding_pairs import ALIGN_COSINE
    from ..detectors.near_duplicates import DEFAULT_EMBEDDING_THRESHOLD

    rule = (
        f"embeddings with cosine similarity at least {DEFAULT_EMBEDDING_THRESHOLD} to the group's centre, clearly "
        "above each image's other neighbours"
    )
    if config.get("hashes", True) and (config.get("near_crops") or config.get("quality")):
        return rule + (
            ", the two pictures also alike on their grey thumbnails; or, from "
            f"cosine {ALIGN_COSINE}, a crop of the other at another shape found on the thumbnails (docs/duplicates.md)"
        )
    why = "the hashes were off" if not config.get("hashes", True) else "no central crops nor quality issues"
    return rule + f"; the pictures not compared: no thumbnails were kept ({why}; docs/duplicates.md)"


def _rules(kinds: Sequence[str], dups: dict[str, Any], config: dict[str, Any]) -> str:
    """The section's first note: how each kind was found, and how many groups."""
    how = {
        "exact": "Exact duplicates (identical decoded pixels, xxhash; a PNG and a BMP of one picture are exact copies)",
        "near": f"near duplicates ({near_rule(config)}, not already exact)",
        "embedding": f"embedding near duplicates ({_embedding_rule(config)})",
    }
    parts = []
    for kind in kinds:
        text = esc(how[kind])
        parts.append((text[0].upper() + text[1:] if not parts else text) + f": <b>{len(dups[kind])}</b> group(s)")
    return note(
        "; ".join(parts) + ". Every group is shown below with the method that found it, its score and its images "
        "(group numbers as in results.csv's <code>&lt;kind&gt;_duplicate_group</code> columns, from 0). A group whose "
        "images carry different labels (<i>mixed</i>) is a copy labelled two ways."
    )


def _intro(
    kind: str, groups: Sequence[DuplicateGroup], config: dict[str, Any], scored: bool, linked: int = 0
) -> str:
    """A kind's note above its groups: how many, and what each image's score is; ``linked``: the
    exact groups that are one file reached by several paths."""
    images = len({i for g in groups for i in g.members})
    text = f'<b id="dup-count-{kind}">{len(groups)}</b> group(s), <b id="dup-images-{kind}">{images}</b> images.'
    if kind == "exact":
        text += " Identical decoded pixels: no score."
        if linked:
            text += (
                f' <b id="dup-linked">{linked}</b> of the groups are one file reached by several paths (symbolic '
                "or hard links): still the same image more than once in the dataset."
            )
    elif kind == "near":
        text += (
            " Each image's score (d) is the Hamming distance of its whole picture's near hash to the closest "
            "other image of its group"
            + (
                f"; one beyond {int(config.get('near_radius') or 0)} was matched through a central crop."
                if config.get("near_crops")
                else "."
            )
        )
        crop = config.get("crop_search") or {}
        if crop.get("partial"):  # the rotated plan above ~20,000 searched images (config.json's crop_search)
            text += f' <span id="crop-search-partial">{esc(str(crop.get("note", "")))}.</span>'

    else:
        text += (
            " Each image's score (cos) is its cosine similarity to the closest other image of its group."
            if scored
            else " The report was not given the embeddings: no cosine similarity shown."
        )
    return note(text)


def group_strip_spec(group: DuplicateGroup, ctx: ReportContext, names: dict[int, str]) -> GridSpec:
    """The cells of one group's strip: up to :data:`MAX_SHOWN` images, each titled with its index,
    class, score and file name (``names``: the paths in the scanned folder; that path and the index
    are the cell's tooltip)."""
    shown = list(group.members[:MAX_SHOWN])
    ncols = min(len(shown), STRIP_COLUMNS)
    files, tips = file_cells(shown, names)
    cells: list[tuple[int, str] | None] = []
    for k, i in enumerate(shown):  # two lines: "#12 · cat · d 2", the file's name (cut in the middle)
        lab = label_text(i, ctx.labels_or_none, ctx.class_names)
        first = [f"#{i}"] + ([short_text(lab, 10)] if lab else []) + ([group.member_text(i)] if i in group.nearest else [])
        if k == len(shown) - 1 and len(group.members) > len(shown):
            first.append(f"+{len(group.members) - len(shown)} more")
        lines = [" · ".join(first)] + ([files[i]] if i in files else [])
        cells.append((i, "\n".join(lines)))
    cells += [None] * (-len(cells) % ncols)
    rows = [cells[r : r + ncols] for r in range(0, len(cells), ncols)]
    return GridSpec(rows, "", STRIP_CELL, tips=tips)


def _group_block(group: DuplicateGroup, ctx: ReportContext, names: dict[int, str], strip: bool) -> str:
    score = group.score_text()
    head = (
        f"<b>{esc(group.method)} · group {group.group}</b> · {len(group.members)} images"
        + (f" · {esc(score)}" if score else "")
    )
    files = ", ".join(names.get(i, str(i)) for i in group.members)
    body = f'<p class="duphead">{head}</p>'
    if strip:
        name = f"dup_{group.kind}_{group.group}"
        body += grid_figure(ctx, name, group_strip_spec(group, ctx, names), files, thumb=STRIP_THUMB)
    else:
        body += note(esc(files))
    return (
        f'<div class="dupgroup" id="dup-{group.kind}-{group.group}" data-method="{group.kind}" '
        f'data-size="{len(group.members)}">{body}</div>'
    )


def _groups_table(
    groups: Sequence[DuplicateGroup], ctx: ReportContext, kinds: Sequence[str], names: dict[int, str]
) -> str:
    df = tables.duplicate_groups_table(
        ctx.report.duplicates, ctx.label_sets, ctx.class_names, ctx.report.paths or None, kinds=kinds, names=names
    )
    df.insert(1, "found by", [g.method for g in groups])
    df.insert(4, "score", [g.score_text() for g in groups])
    return table_html(df, total_row=False, index=False, table_id="table-duplicate-groups")


def _strip_budget(groups: Sequence[DuplicateGroup]) -> set[tuple[str, int]]:
    """The groups drawn with pictures: in order, while the distinct images shown stay within
    :data:`MAX_STRIP_IMAGES`."""
    seen: set[int] = set()
    out = set()
    for g in groups:
        new = set(g.members[:MAX_SHOWN]) - seen
        if len(seen) + len(new) > MAX_STRIP_IMAGES:
            break
        seen |= new
        out.add((g.kind, g.group))
    return out


def duplicates_section(ctx: ReportContext) -> Section | None:
    report = ctx.report
    dups = report.duplicates or {}
    kinds = [k for k in KINDS if k in dups]
    if not kinds:  # no hashes and no embeddings: not searched (the summary says so)
        return None
    groups = report_groups(report, ctx.embeddings)
    members = {int(i) for g in groups for i in g.members}  # only theirs are shown: not every path
    names = tables.inside_folder({int(i): str(p) for i, p in report.paths.items()}, only=members) if report.paths else {}
    body = _rules(kinds, dups, report.config or {})
    if ctx.labels and groups:
        body += "<h3>Duplicates by class</h3>" + table_html(
            tables.duplicates_by_class_table(dups, ctx.label_sets, ctx.class_names, kinds=kinds),
            table_id="table-duplicates-class",
        )
    if groups:
        body += "<h3>Groups</h3>" + _groups_table(groups, ctx, kinds, names)
    drawn = _strip_budget(groups) if ctx.get_image is not None else set()
    scored = ctx.embeddings is not None
    for kind in kinds:
        of_kind = [g for g in groups if g.kind == kind]
        body += f'<h3 id="dups-{kind}">{HEADINGS[kind]}</h3>' + _intro(
            kind, of_kind, report.config or {}, scored,
            tables.one_file_groups(report.paths, [g.members for g in of_kind]) if kind == "exact" else 0,
        )
        without = sum((g.kind, g.group) not in drawn for g in of_kind)
        if of_kind and without:
            why = "no image source was given" if ctx.get_image is None else f"over {MAX_STRIP_IMAGES} images shown"
            body += note(f"{without} of these groups are listed without their pictures ({why}).")
        blocks = "".join(_group_block(g, ctx, names, (g.kind, g.group) in drawn) for g in of_kind)
        body += f'<div class="dupgrid">{blocks}</div>' if blocks else ""
    return ("duplicates", "Duplicates", body)

