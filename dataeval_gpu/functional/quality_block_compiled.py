"""The compiled CPU kernel of ``blockiness``'s spread: how many of the 8-px block borders step.

JPEG blocking is spread over the picture: where the content is smooth, most borders between two
8 x 8 blocks show a step that the lines beside them do not.  A drawing or a sprite whose few strong
edges happen to lie on the 8-px grid raises the mean step on the grid lines as much, but on few
border segments.  :func:`block_spread` counts the border *segments* (a border line's 8 px within
one row / column of blocks) whose summed step exceeds the larger of the two neighbouring lines'
(the same 8 px) by more than ``8 *`` :data:`BLOCK_STEP` grey levels, over all border segments of
the directions ``blockiness`` measures (a side of at least 64 px).  The float64 sums of eight
float32 steps are exact, so the count equals
:func:`~dataeval_gpu.functional.quality_torch.block_spread`'s.

A regular pattern on the grid steps on many segments too, but not as JPEG blocking does
(:func:`block_figures`' second figure, the *pattern* share of the stepping segments): a
checkerboard (GIMP's transparency checks baked into a screenshot, 8-px squares) steps with the
sign alternating to every neighbouring segment, along the border and across it; a pattern of
16-px period (3-D LUT tiles, pixels enlarged 16 times) steps on every other border line only.
JPEG blocks of a photo step with signs as the content goes and on both phases alike.  The pattern
share is the largest of :func:`period_share` (below), the share of stepping segments whose every neighbouring segment (along the
border line and across it, those inside the window) steps with the opposite sign, and of the
imbalance of the two phases (border lines 8, 24, 40, ... against 16, 32, ...: per direction the
absolute difference of their stepping counts, summed, less twice the square root of all stepping
segments, a fair split's chance imbalance, at least 0) over the stepping segments;
``blockiness`` is weighted by :func:`pattern_weight`, 1 up to :data:`PATTERN_LO`, 0 from
:data:`PATTERN_HI` (measured: photos at JPEG quality 5 at most 0.03 and 0.1, GIMP's
checkerboards 0.36-1.0, LUT strips 0.5-1.0).

A picture enlarged 2 or 4 times by repeating its pixels (nearest neighbour: scikit-image's
``moon``, 256 px stored at 512) steps only between its enlarged pixels: on every 2nd (4th) line, the
8-px borders among them, while the lines inside an enlarged pixel do not step at all.  Against the
mean of all other lines its borders step 2.3 (4.7) times as much, with no 8 x 8 block in it.
:func:`replica_off` takes the mean step of the lines on its own pixel grid instead (artfalse14).

A pattern that *repeats* at 8 or 16 px (a hatching of lines every 8 px, shingles, bricks, stripes of
16 px: drawn, not compressed) steps on its borders as JPEG blocks do, but its content repeats too:
pixels 8 (or 16) px apart are alike while pixels 4 px apart are not.  JPEG blocks do not repeat the
picture (a photo's pixels differ more the further apart they are; blocks of a pixelated picture
differ from their neighbours).  :func:`period_share` is the third pattern share (blurprec15):
``1 - min(D8, D16) / D4``, at least 0, ``Ds`` the mean absolute difference of the window's
256-level grey (``rint``) between pixels ``s`` px apart along the measured directions (exact
integer sums: the torch twin equals it).  Measured: JPEG quality 5-30 copies and 8-px pixelations
of photos ``min(D8, D16) / D4`` >= 1.23 (a share of 0), ImageMagick's 8-px hatchings 0-0.23,
fillets' 16-px striped pole 0.36.

A strip or grid of tiles (animation frames, floor tiles of 32, 40, 48 or 64 px: enigma's ``fl_*``,
lbreakout2's brick sheets) steps on its tile borders, which lie on the 8-px grid, and barely
anywhere else: the excess is carried by the border lines of one coarser period, while JPEG blocking
raises nearly every 8-px border line.  :func:`tile_lines` is the fourth pattern share (blockprec17):
per measured direction the *excess* of each border line (the sum over its segments of how much the
segment's step exceeds the larger neighbouring line's, at least 0), and for each period ``m`` of 2 to
:data:`TILE_PERIODS` border lines (16-64 px) with at least two of its lines in the window and each
phase ``r``: the lines ``k = r, r + m, ...`` are a tile grid when the *least* of them exceeds
:data:`TILE_CONTRAST` times the lower median of the other lines (at least :data:`TILE_FLOOR` a
segment); the share is the excess on the largest such set of lines over all the border excess
(both directions).  The least line of the set, not its sum: one strong edge on the grid is not a
period.  Measured (numpy twin, blockprec17): enigma's and lbreakout2's tile strips 15-340, the JPEG
copies of photos and screenshots (survey draw 1 q10 / q20, 101 photos at q5 / q10, the planted
corpus' jpeg5 / jpeg30 / jpeg50) at most 4.1.

A drawing whose edges lie on the 8-px grid because it was drawn on a coarser grid of its own (a flat
icon drawn on a 4-px grid, a 32-px design stored at 64 px) steps on the lines of its own grid that are
not 8-px borders as often: JPEG blocks are 8 px and the lines inside a block (1-7 px past a border)
step above both their neighbours far less often than the borders, whatever the content.
:func:`grid_share` (blockicons18) is the largest share of stepping segments over the seven other
phases of lines (by the border rule, positions with both neighbours) over the border lines' share,
pooled over the measured directions; ``blockiness``' excess over 1 is weighted by :func:`grid_weight`,
1 up to :data:`GRID_LO`, 0 from :data:`GRID_HI` (:func:`grid_excess`: such a drawing reads 1, as a
picture whose borders step as much as its other lines; a photo's value, at most about 1, is kept).  Measured: JPEG copies flagged at quality 5-20 (photos at
640 px and 96-256 px, drawings, screenshots, icons) at most 0.6; ukui's flat icons (64, 96 px,
stepping on lines 2, 4, 6 px past the borders) 0.80-1.24.  Judged only where every phase holds at
least :data:`GRID_MIN_SEGMENTS` segments (0 otherwise: a share of a few dozen segments is noise).
"""

from __future__ import annotations

import numpy as np

from .stats_compiled import njit

__all__ = [
    "BLOCK_SPREAD", "BLOCK_STEP", "GRID_HI", "GRID_LO", "GRID_MIN_SEGMENTS", "grid_excess", "grid_share", "grid_weight", "PATTERN_HI", "PATTERN_LO", "PERIODS", "REPLICA_QUIET", "block_figures", "block_spread", "pattern_weight",
    "period_from_sums", "period_share", "phase_means", "replica_off", "spread_weight", "TILE_CONTRAST", "TILE_FLOOR",
    "TILE_PERIODS", "tile_lines",
]

#: a border segment steps when its mean step exceeds both neighbouring lines' by more than this
#: (grey levels, 0..255)
BLOCK_STEP = 0.5
#: ``blockiness`` is the border / other step ratio times ``min(1, share / BLOCK_SPREAD) ** 2``,
#: ``share`` of the border segments that step: JPEG blocking steps on 0.2-0.7 of them (photos at
#: quality 5), a sprite's few edges on the grid on under 0.1 (a factor under 1/4)
BLOCK_SPREAD = 0.2
#: the pattern share (see the module) up to which ``blockiness`` counts in full ...
PATTERN_LO = 0.2
#: ... and from which it counts nothing (linear in between)
PATTERN_HI = 0.4
#: the lines inside a pixel enlarged by repetition do not step: a picture whose odd lines (1, 3, 5, 7
#: px past an 8-px border) step at most this share of its even ones (2, 4, 6) was enlarged 2 times
#: (and 4 times when lines 1-3 and 5-7 step at most this share of line 4): :func:`replica_off`.  A
#: photo or a JPEG steps alike on both: 0.75-1.53 the odd / even ratio, 0.73-1.59 that of lines 2 and 6
#: to line 4, on every 6th of ``data_cache/photos`` (101) as stored and as JPEG quality 10
REPLICA_QUIET = 0.25
#: the lags (px) of :func:`period_share`: the reference lag (half a block), then the two periods
PERIODS = (4, 8, 16)
#: :func:`tile_lines`: the longest tile period tried, in border lines (8 px each: 64 px) ...
TILE_PERIODS = 8
#: ... the least excess of a tile grid's lines over the lower median of the other lines ...
TILE_CONTRAST = 8.0
#: ... which counts as at least this a segment (grey levels summed over its 8 px: a hit's step)
TILE_FLOOR = 8.0 * BLOCK_STEP
#: :func:`grid_share`, the largest stepping share of another phase of lines over the border lines',
#: up to which ``blockiness`` counts in full (JPEG copies flagged at quality 5-20: at most 0.6) ...
GRID_LO = 0.65
#: ... and from which it counts nothing (flat icons drawn on a 4-px grid: 0.80-1.24)
GRID_HI = 0.8
#: :func:`grid_share` is 0 (not judged) unless every phase holds at least this many segments
GRID_MIN_SEGMENTS = 64


@njit
def _hits(seg, thr, hit, r, excess):  # noqa: ANN001, ANN202 - numba helper
    """Mark in ``hit[r]`` the border positions ``j`` (``(j + 1) % 8 == 0``) of the segment sums
    ``seg`` whose sum exceeds both neighbours' (the left one alone at the last line) by more than
    ``thr``; add to ``excess[k]`` how much it exceeds them (at least 0); the number marked."""
    n = seg.shape[0]
    hits = 0
    for k, j in enumerate(range(7, n, 8)):
        side = seg[j - 1] if j + 1 >= n else max(seg[j - 1], seg[j + 1])
        hit[r, k] = seg[j] - side > thr
        excess[k] += max(seg[j] - side, 0.0)
        hits += hit[r, k]
    return hits


@njit
def _phase_hits(seg, thr, ph, pn):  # noqa: ANN001, ANN202 - numba helper
    """Add to ``ph[p]`` / ``pn[p]`` the positions ``j`` of the segment sums ``seg`` off the 8-px borders
    (``p = (j + 1) % 8``, 1..7; both neighbours inside) whose sum exceeds both neighbours' by more than
    ``thr`` / all such positions."""
    n = seg.shape[0]
    for j in range(1, n - 1):
        p = (j + 1) % 8
        if p != 0:
            ph[p] += seg[j] - max(seg[j - 1], seg[j + 1]) > thr
            pn[p] += 1


@njit
def grid_share(hits, total, ph, pn):  # noqa: ANN001, ANN201 - numba helper
    """The largest share of stepping segments ``ph[p] / pn[p]`` over the phases 1..7 off the borders
    over the border lines' share ``hits / total``; 0 where nothing steps on the borders or a phase
    holds fewer than :data:`GRID_MIN_SEGMENTS` segments (see the module)."""
    if hits == 0:
        return 0.0
    off = 0.0
    for p in range(1, 8):
        if pn[p] < GRID_MIN_SEGMENTS:
            return 0.0
        off = max(off, ph[p] / pn[p])
    return off / (hits / total)


@njit
def tile_lines(excess, segments):  # noqa: ANN001, ANN201 - numba helper
    """The largest excess summed over the border lines ``r, r + m, ...`` of one direction's line
    excesses ``excess`` (float64, each summed over ``segments`` segments) whose least exceeds
    :data:`TILE_CONTRAST` times the lower median of the other lines (at least :data:`TILE_FLOOR`
    a segment), over the periods ``m`` of 2 to :data:`TILE_PERIODS` lines with two lines or more
    and their phases ``r``; 0 where none does (see the module)."""
    n = excess.shape[0]
    floor = TILE_FLOOR * segments
    best = 0.0
    for m in range(2, TILE_PERIODS + 1):
        if n < 2 * m:
            break
        for r in range(m):
            on = excess[r::m]
            rest = np.empty(n - on.shape[0])
            i = 0
            for k in range(n):
                if k % m != r:
                    rest[i] = excess[k]
                    i += 1
            med = np.sort(rest)[(rest.shape[0] - 1) // 2]
            if on.min() >= TILE_CONTRAST * max(med, floor):
                best = max(best, on.sum())
    return best


@njit
def _opposite(hit, sgn, a, k, a2, k2):  # noqa: ANN001, ANN202, PLR0913 - numba helper
    """Whether the neighbour ``(a2, k2)`` of ``(a, k)`` is outside the grid or steps with the opposite sign."""
    if a2 < 0 or k2 < 0 or a2 >= hit.shape[0] or k2 >= hit.shape[1]:
        return True
    return hit[a2, k2] and sgn[a2, k2] * sgn[a, k] < 0.0


@njit
def _pattern(hit, sgn):  # noqa: ANN001, ANN202 - numba helper
    """``(checks, imbalance)`` of one direction's grid of stepping segments ``hit`` (blocks across,
    border lines along) and their signed sums ``sgn``: the stepping segments whose every neighbour
    inside the grid steps with the opposite sign (none without a neighbour), and
    ``|even - odd|`` of the stepping counts on the two phases of border lines."""
    na, nk = hit.shape
    checks = even = odd = 0
    for a in range(na):
        for k in range(nk):
            if not hit[a, k]:
                continue
            if k % 2 == 0:
                even += 1
            else:
                odd += 1
            if na * nk > 1 and (
                _opposite(hit, sgn, a, k, a, k - 1) and _opposite(hit, sgn, a, k, a, k + 1)
                and _opposite(hit, sgn, a, k, a - 1, k) and _opposite(hit, sgn, a, k, a + 1, k)
            ):
                checks += 1
    return checks, abs(even - odd)


@njit
def _lag_sums(lv, rows, cols, out):  # noqa: ANN001, ANN202 - numba helper
    """Add to ``out[k]`` / ``out[3 + k]`` the sum / count of ``|lv(p + s e) - lv(p)|`` for the lags
    ``s`` of :data:`PERIODS` along the rows (``rows``) and the columns (``cols``) of the int levels ``lv``."""
    h, w = lv.shape
    for k in range(3):
        s = PERIODS[k]
        if rows:
            t = 0
            for i in range(h):
                for j in range(w - s):
                    t += abs(lv[i, j + s] - lv[i, j])
            out[k] += t
            out[3 + k] += h * (w - s)
        if cols:
            t = 0
            for i in range(h - s):
                for j in range(w):
                    t += abs(lv[i + s, j] - lv[i, j])
            out[k] += t
            out[3 + k] += (h - s) * w


@njit
def period_share(g, rows, cols):  # noqa: ANN001, ANN201 - numba kernel
    """``max(0, 1 - min(D8, D16) / D4)`` of the float32 window ``g`` (0..255) over the directions
    ``rows`` / ``cols`` (see the module); 0 where ``D4`` is 0 or no direction is given."""
    lv = np.rint(g).astype(np.int64)
    out = np.zeros(6, np.int64)
    _lag_sums(lv, rows, cols, out)
    return period_from_sums(out[0], out[1], out[2], out[3], out[4], out[5])


@njit
def period_from_sums(s4, s8, s16, n4, n8, n16):  # noqa: ANN001, ANN201, PLR0913 - numba helper
    """:func:`period_share` from the integer sums and counts of the three lags."""
    if n4 == 0 or s4 == 0:
        return 0.0
    d4 = s4 / n4
    return max(0.0, 1.0 - min(s8 / n8, s16 / n16) / d4)


@njit
def block_figures(g):  # noqa: ANN001, ANN201 - numba kernel
    """``(share, pattern, grid)`` of the float32 window ``g`` (0..255): the share of the 8-px border
    segments that step, the pattern share of those (checks, phase, :func:`period_share`,
    :func:`tile_lines`' share of the border excess) and :func:`grid_share` (see the module);
    ``(-1, 0, 0)`` when no direction is measured (both sides under 64 px, or the other side under 8 px)."""
    h, w = g.shape
    thr = 8.0 * BLOCK_STEP
    hits = total = checks = imbalance = 0
    tiles = excess = 0.0
    ph = np.zeros(8)
    pn = np.zeros(8)
    rows, cols = w >= 64 and h >= 8, h >= 64 and w >= 8
    if rows:
        nk = (w - 1) // 8
        line = np.zeros(nk)
        hit = np.zeros((h // 8, nk), np.bool_)
        sgn = np.zeros((h // 8, nk))
        seg = np.zeros(w - 1)
        for r in range(h // 8):
            seg[:] = 0.0
            for i in range(8 * r, 8 * r + 8):
                row = g[i]
                for j in range(w - 1):
                    seg[j] += abs(row[j + 1] - row[j])
                for k in range(nk):
                    sgn[r, k] += row[8 * k + 8] - row[8 * k + 7]
            hits += _hits(seg, thr, hit, r, line)
            _phase_hits(seg, thr, ph, pn)
            total += nk
        tiles += tile_lines(line, h // 8)
        excess += line.sum()
        c, d = _pattern(hit, sgn)
        checks += c
        imbalance += d
    if cols:
        n8, nk = w // 8, (h - 1) // 8
        seg = np.zeros((n8, h - 1))
        for i in range(h - 1):
            a, b = g[i], g[i + 1]
            for k in range(n8):
                s = 0.0
                for j in range(8 * k, 8 * k + 8):
                    s += abs(b[j] - a[j])
                seg[k, i] = s
        hit = np.zeros((n8, nk), np.bool_)
        sgn = np.zeros((n8, nk))
        for m in range(nk):
            a, b = g[8 * m + 7], g[8 * m + 8]
            for k in range(n8):
                for j in range(8 * k, 8 * k + 8):
                    sgn[k, m] += b[j] - a[j]
        line = np.zeros(nk)
        for k in range(n8):
            hits += _hits(seg[k], thr, hit, k, line)
            _phase_hits(seg[k], thr, ph, pn)
            total += nk
        tiles += tile_lines(line, n8)
        excess += line.sum()
        c, d = _pattern(hit, sgn)
        checks += c
        imbalance += d
    if total == 0:
        return -1.0, 0.0, 0.0
    if hits == 0:
        return 0.0, 0.0, 0.0
    phase = max(0.0, imbalance - np.sqrt(hits)) / hits
    tile = tiles / excess if excess > 0.0 else 0.0
    return hits / total, max(checks / hits, phase, period_share(g, rows, cols), tile), grid_share(hits, total, ph, pn)


@njit
def block_spread(g):  # noqa: ANN001, ANN201 - numba kernel
    """The share of the 8-px border segments of the float32 window ``g`` (0..255) that step
    (see the module); -1 when no direction is measured (both sides under 64 px, or the other
    side under 8 px)."""
    return block_figures(g)[0]


@njit
def pattern_weight(pattern):  # noqa: ANN001, ANN201 - numba helper
    """1 up to :data:`PATTERN_LO`, 0 from :data:`PATTERN_HI`, linear in between."""
    return min(1.0, max(0.0, (PATTERN_HI - pattern) / (PATTERN_HI - PATTERN_LO)))


@njit
def grid_weight(grid):  # noqa: ANN001, ANN201 - numba helper
    """1 up to :data:`GRID_LO`, 0 from :data:`GRID_HI`, linear in between."""
    return min(1.0, max(0.0, (GRID_HI - grid) / (GRID_HI - GRID_LO)))


@njit
def spread_weight(share, pattern):  # noqa: ANN001, ANN201 - numba helper
    """``blockiness``' weight of its step ratio: ``min(1, share / BLOCK_SPREAD) ** 2`` times
    :func:`pattern_weight` (1 when no direction is measured, ``share`` -1)."""
    if share < 0.0:
        return 1.0
    return min(1.0, share / BLOCK_SPREAD) ** 2 * pattern_weight(pattern)


@njit
def grid_excess(value, grid):  # noqa: ANN001, ANN201 - numba helper
    """``blockiness`` from its weighted step ratio ``value``: the excess over 1 (the borders stepping
    more than the other lines) times :func:`grid_weight`; a value of at most 1 (no excess) as it is."""
    if value <= 1.0:
        return value
    return 1.0 + (value - 1.0) * grid_weight(grid)


@njit
def replica_off(odd, even, mid, four, off):  # noqa: ANN001, ANN201 - numba helper
    """The mean step off the 8-px borders that ``blockiness`` divides by: ``off`` (every other
    line), or for a picture enlarged by repeating its pixels the step of the lines on its own grid -
    ``four`` (line 4 px past a border) where ``odd`` (1, 3, 5, 7) and ``mid`` (2, 6) are at most
    :data:`REPLICA_QUIET` of it (enlarged 4 times), else ``even`` (2, 4, 6) where ``odd`` is at most
    that share of it (2 times); a grid that does not step (``four`` / ``even`` 0) is none.  Each figure is the mean (or, for images with alpha, the
    median) step of its lines; NaN where a direction holds no such line (``off`` kept).  The
    torch twin: :func:`~dataeval_gpu.functional.quality_torch.replica_reference`."""
    if four > 0.0 and max(odd, mid) <= REPLICA_QUIET * four:  # NaN compares False: kept
        return four
    if even > 0.0 and odd <= REPLICA_QUIET * even:
        return even
    return off


@njit
def phase_means(ps, pn):  # noqa: ANN001, ANN201 - numba helper
    """``(odd, even, mid, four)`` for :func:`replica_off`: the mean line step of the lines 1, 3, 5, 7
    / 2, 4, 6 / 2, 6 / 4 px past an 8-px border from the steps summed per phase (``ps[k]``: lines ``k``
    past a border, mod 8) and counted (``pn``); NaN where no line is counted."""
    return (
        _mean(ps[1] + ps[3] + ps[5] + ps[7], pn[1] + pn[3] + pn[5] + pn[7]),
        _mean(ps[2] + ps[4] + ps[6], pn[2] + pn[4] + pn[6]),
        _mean(ps[2] + ps[6], pn[2] + pn[6]),
        _mean(ps[4], pn[4]),
    )


@njit
def _mean(total, count):  # noqa: ANN001, ANN202 - numba helper
    return total / count if count > 0 else np.nan
