"""The torch path of the quality metrics' spatial measurements (what a GPU runs, and the CPU for
images the compiled kernels do not take): colour moments, the Laplacian-pyramid band energies at a
working resolution, Immerkær's noise and the blockiness of a window.

Every function takes a stack ``(B, C, H, W)`` (or its grey image ``(B, 1, H, W)``) and computes
with shifted adds and row reductions, so that a batched row equals the image measured alone bit
for bit; float32 CPU images go through the compiled kernels of
:mod:`~dataeval_gpu.functional.quality_compiled` where they exist (the same values).  The
definitions are :mod:`~dataeval_gpu.functional.quality`'s.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from . import quality_compiled
from .pixels import block_lines, block_phases, row_mean64
from .quality_block_compiled import (
    BLOCK_SPREAD,
    BLOCK_STEP,
    GRID_HI,
    GRID_LO,
    GRID_MIN_SEGMENTS,
    PATTERN_HI,
    PATTERN_LO,
    PERIODS,
    REPLICA_QUIET,
    TILE_CONTRAST,
    TILE_FLOOR,
    TILE_PERIODS,
)

__all__ = [
    "BLOCK_FLOOR", "MAD_GAUSS", "TINY", "band_energy", "block_figures", "block_spread", "blockiness", "blur5", "grid_share", "chroma", "colour", "noise",
    "period_share", "ratio", "replica_reference", "sharpness", "spread_factor", "tile_lines", "working", "working_size",
]

MAD_GAUSS = 0.6744897501960817  # Phi^-1(0.75)
BINOMIAL = (1.0, 4.0, 6.0, 4.0, 1.0)
TINY = 1e-12
#: the least mean grey step (0..255 levels) off the 8-px borders that ``blockiness`` divides by
BLOCK_FLOOR = 0.5


def _rgb255(x: torch.Tensor) -> tuple[torch.Tensor, ...] | None:
    """The R, G, B planes as ``(B, pixels)`` rows on the 0-255 scale; None below 3 channels."""
    return None if x.shape[1] < 3 else tuple(x[:, i].reshape(x.shape[0], -1) * 255.0 for i in range(3))


def chroma(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean ``R - G`` and ``B - G`` on the 0-255 scale (zeros below 3 channels)."""
    rgb = _rgb255(x)
    if rgb is None:
        z = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        return z, z
    r, g, bl = rgb
    return row_mean64(r - g), row_mean64(bl - g)


def colour(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Colourfulness (Hasler & Suesstrunk: ``std + 0.3 mean`` of the opponent channels) and the
    mean channel spread ``max - min`` (zeros below 3 channels)."""
    b = x.shape[0]
    channels = _rgb255(x)
    if channels is None:
        z = torch.zeros(b, dtype=x.dtype, device=x.device)
        return z, z
    r, g, bl = channels
    rg = (r - g).to(torch.float64)  # the moments in float64 (batch-size independent: row_mean64)
    yb = (0.5 * (r + g) - bl).to(torch.float64)
    std = torch.sqrt(rg.var(dim=1, unbiased=False) + yb.var(dim=1, unbiased=False))
    mean = torch.sqrt(rg.mean(dim=1) ** 2 + yb.mean(dim=1) ** 2)
    rgb = x[:, :3].reshape(b, 3, -1)
    spread = row_mean64(rgb.amax(dim=1) - rgb.amin(dim=1))
    return (std + 0.3 * mean).to(x.dtype), spread


def blur5(g: torch.Tensor) -> torch.Tensor:
    """Separable 5-tap binomial blur with reflect padding (replicate when a side is < 3 px).

    Shifted adds, not ``conv2d``: every output element is computed the same way whatever
    the batch size, so a batched row equals the image measured alone bit for bit."""
    mode = "reflect" if min(g.shape[-2:]) > 2 else "replicate"
    w = [x / 16.0 for x in BINOMIAL]
    p = F.pad(g, (2, 2, 0, 0), mode=mode)
    n = g.shape[-1]
    g = sum(w[k] * p[..., :, k : k + n] for k in range(5))
    p = F.pad(g, (0, 0, 2, 2), mode=mode)
    n = g.shape[-2]
    return sum(w[k] * p[..., k : k + n, :] for k in range(5))


def working_size(h: int, w: int, side: int) -> tuple[int, int]:
    """Size of the working image of an ``h x w`` image: the short side at most ``side``."""
    short = min(h, w)
    if short <= side:
        return h, w
    return max(1, round(h * side / short)), max(1, round(w * side / short))


def working(g: torch.Tensor, side: int) -> torch.Tensor:
    h, w = g.shape[-2:]
    size = working_size(h, w, side)
    if size == (h, w):
        return g
    if g.dtype == torch.float32 and g.device.type == "cpu" and quality_compiled.ready():
        parts = [quality_compiled.area_down(g[i, 0], *size) for i in range(g.shape[0])]
        return torch.stack(parts).unsqueeze(1)
    return F.interpolate(g, size=size, mode="area")


def band_energy(g: torch.Tensor) -> torch.Tensor:
    if g.dtype == torch.float32 and g.device.type == "cpu" and quality_compiled.ready():
        vals = [quality_compiled.band_energy(g[i, 0]) for i in range(g.shape[0])]
        return torch.tensor(vals, dtype=torch.float64).to(g.dtype)
    return ((g - blur5(g)) ** 2).mean(dim=(1, 2, 3))


def sharpness(g: torch.Tensor, side: int) -> tuple[torch.Tensor, torch.Tensor]:
    w = working(g, side)
    e0 = band_energy(w)
    if min(w.shape[-2:]) < 2:
        return torch.zeros_like(e0), torch.sqrt(e0)
    return ratio(e0, band_energy(F.avg_pool2d(w, 2))), torch.sqrt(e0)


def ratio(e0: torch.Tensor, e1: torch.Tensor) -> torch.Tensor:
    return torch.where(e1 > TINY, torch.sqrt(e0 / e1.clamp(min=TINY)), torch.zeros_like(e0))


def noise(g255: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    b = g255.shape[0]
    if min(g255.shape[-2:]) < 3:
        z = torch.zeros(b, dtype=g255.dtype, device=g255.device)
        return z, z
    # the Immerkaer mask [[1,-2,1],[-2,4,-2],[1,-2,1]] by shifted adds (batch-size independent)
    h, w = g255.shape[-2:]
    mask = ((1.0, -2.0, 1.0), (-2.0, 4.0, -2.0), (1.0, -2.0, 1.0))
    acc = torch.zeros_like(g255[..., : h - 2, : w - 2])
    for dy in range(3):
        for dx in range(3):
            acc = acc + mask[dy][dx] * g255[..., dy : dy + h - 2, dx : dx + w - 2]
    r = acc.abs().reshape(b, -1)
    mean_est = (r.to(torch.float64).mean(dim=1) * math.sqrt(math.pi / 2.0) / 6.0).to(r.dtype)  # as row_mean64
    robust = r.median(dim=1).values / (6.0 * MAD_GAUSS)
    return mean_est, robust


def _border_sides(size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Index tensors of the border step positions ``j`` (``(j + 1) % 8 == 0``) of ``size - 1``
    steps and of their left / right neighbours (the left one again at the last step)."""
    on = torch.arange(7, size - 1, 8, device=device)  # built where it is used: no host-to-device copy
    return on, on - 1, torch.where(on + 1 < size - 1, on + 1, on - 1)


def _grid_pattern(hit: torch.Tensor, sgn: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(checks, imbalance)`` ``(B,)`` of one direction's stepping segments ``hit`` ``(B, A, K)``
    (blocks across, border lines along) and their signed sums ``sgn``: the stepping segments whose
    every neighbour inside the grid steps with the opposite sign (none without a neighbour), and
    ``|even - odd|`` of the stepping counts on the two phases of border lines
    (:func:`~dataeval_gpu.functional.quality_block_compiled.block_figures`)."""
    ok = hit.clone()
    for dim in (1, 2):
        n = hit.shape[dim]
        if n < 2:
            continue
        a, b = hit.narrow(dim, 1, n - 1), hit.narrow(dim, 0, n - 1)
        opp = a & b & (sgn.narrow(dim, 1, n - 1) * sgn.narrow(dim, 0, n - 1) < 0)
        ok.narrow(dim, 1, n - 1).logical_and_(opp)  # the neighbour before
        ok.narrow(dim, 0, n - 1).logical_and_(opp)  # the neighbour after
    checks = ok.sum(dim=(1, 2)) if hit.shape[1] * hit.shape[2] > 1 else torch.zeros_like(hit.sum(dim=(1, 2)))
    return checks, (hit[..., 0::2].sum(dim=(1, 2)) - hit[..., 1::2].sum(dim=(1, 2))).abs()


def tile_lines(excess: torch.Tensor, segments: int) -> torch.Tensor:
    """``(B,)`` float64: the largest excess summed over the border lines ``r, r + m, ...`` of one
    direction's line excesses ``excess`` ``(B, K)`` (each summed over ``segments`` segments) whose
    least exceeds ``TILE_CONTRAST`` times the lower median of the other lines (at least
    ``TILE_FLOOR`` a segment), over the periods ``m`` of 2 to ``TILE_PERIODS`` lines with two lines or
    more and their phases ``r``; 0 where none does - the torch twin of
    :func:`~dataeval_gpu.functional.quality_block_compiled.tile_lines` (every phase of a period at
    once: one sort per period, no device sync)."""
    b, n = excess.shape
    best = torch.zeros(b, dtype=torch.float64, device=excess.device)
    inf = torch.full((b, 1), float("inf"), dtype=excess.dtype, device=excess.device)
    for m in range(2, min(TILE_PERIODS, n // 2) + 1):
        q = -(-n // m)  # lines per phase, the last row short by q * m - n
        fill = inf.expand(b, q * m - n)
        least = torch.cat([excess, fill], dim=1).reshape(b, q, m).amin(dim=1)  # (B, m): [:, r] phase r's least
        total = torch.cat([excess, torch.zeros_like(fill)], dim=1).reshape(b, q, m).sum(dim=1)
        # the other lines of each phase r: every line, phase r's set to inf, sorted; the lower median of
        # the n - count_r finite ones (count_r: q, or q - 1 for the phases the last row lacks)
        phase = torch.arange(m, device=excess.device)
        own = (torch.arange(n, device=excess.device) % m)[None, :] == phase[:, None]  # (m, K)
        rest = torch.where(own[None], inf[:, :, None], excess[:, None, :]).sort(dim=2).values
        count = torch.where(phase < n - (q - 1) * m, q, q - 1)
        med = rest.gather(2, ((n - count - 1) // 2).expand(b, m)[..., None])[..., 0]
        tile = least >= TILE_CONTRAST * med.clamp(min=TILE_FLOOR * segments)
        best = torch.maximum(best, torch.where(tile, total, torch.zeros_like(total)).amax(dim=1))
    return best


def period_share(g255: torch.Tensor, rows: bool, cols: bool) -> torch.Tensor:
    """``(B,)`` float64 ``max(0, 1 - min(D8, D16) / D4)`` of ``(B, 1, H, W)``: ``Ds`` the mean
    absolute difference of the 256-level grey (``round``, half to even) between pixels ``s`` px
    apart along the rows (``rows``) and the columns (``cols``); 0 where ``D4`` is 0.  Exact int64
    sums: the twin of :func:`~dataeval_gpu.functional.quality_block_compiled.period_share`."""
    lv = torch.round(g255[:, 0]).to(torch.int64)
    b, h, w = lv.shape
    mean = []
    for s in PERIODS:
        tot = torch.zeros(b, dtype=torch.int64, device=lv.device)
        n = 0
        for dim, size, on in ((2, w, rows), (1, h, cols)):
            if on:
                tot = tot + (lv.narrow(dim, s, size - s) - lv.narrow(dim, 0, size - s)).abs().sum(dim=(1, 2))
                n += (size - s) * (w if dim == 1 else h)
        mean.append(tot.to(torch.float64) / max(n, 1))
    d4 = mean[0]
    share = 1.0 - torch.minimum(mean[1], mean[2]) / d4.clamp(min=TINY)
    return torch.where(d4 > 0, share.clamp(min=0.0), torch.zeros_like(share))


def _phase_hits(seg: torch.Tensor, ph: torch.Tensor, pn: list[int]) -> None:
    """Add to ``ph`` ``(B, 8)`` the segments of ``seg`` ``(B, A, N)`` at the positions ``j`` with both
    neighbours (``1 <= j <= N - 2``) whose sum exceeds both neighbours' by more than ``8 * BLOCK_STEP``,
    per phase ``(j + 1) % 8``, and to ``pn`` (host counts) the segments per phase (the phase index is
    built on the device, the counts by arithmetic on the host: no copy either way, no device sync)."""
    n = seg.shape[2]
    if n < 3:
        return
    side = torch.maximum(seg[..., :-2], seg[..., 2:])
    hit = ((seg[..., 1:-1] - side) > 8.0 * BLOCK_STEP).sum(dim=1).to(torch.float64)  # (B, N - 2)
    ph.index_add_(1, torch.arange(2, n, device=seg.device) % 8, hit)
    for p in range(8):  # positions j in 1..n-2 with (j + 1) % 8 == p
        pn[p] += seg.shape[1] * len(range((p - 2) % 8 + 2, n, 8))


def grid_share(hits: torch.Tensor, total: int, ph: torch.Tensor, pn: list[int]) -> torch.Tensor:
    """``(B,)`` float64: the largest share of stepping segments ``ph[:, p] / pn[p]`` over the phases
    1..7 off the borders over the border lines' share ``hits / total``; 0 where nothing steps on the
    borders or a phase holds fewer than ``GRID_MIN_SEGMENTS`` segments - the torch twin of
    :func:`~dataeval_gpu.functional.quality_block_compiled.grid_share`."""
    if min(pn[1:]) < GRID_MIN_SEGMENTS:
        return torch.zeros_like(hits)
    off = torch.stack([ph[:, p] / pn[p] for p in range(1, 8)], dim=1).amax(dim=1)  # no host-to-device copy
    return torch.where(hits > 0, off / (hits / total).clamp(min=TINY), torch.zeros_like(hits))


def block_figures(g255: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
    """``(share, pattern, grid)``, ``(B,)`` float64: the share of the 8-px border segments of
    ``(B, 1, H, W)`` that step - a border line's 8 px within one row (column) of blocks whose
    summed step exceeds both neighbouring lines' by more than ``8 * BLOCK_STEP`` grey levels,
    over the directions with a side of at least 64 px (and 8 px across) - the pattern share of
    those (checkerboard, 16-px phase, a content that repeats at 8 / 16 px, :func:`period_share`, or the
    share of the border excess on a coarser tile grid, :func:`tile_lines`) and how often another phase
    of lines steps, :func:`grid_share` (see
    :mod:`~dataeval_gpu.functional.quality_block_compiled`); None when no direction is measured.
    The float64 sums of eight float32 steps are exact: the figures equal the compiled kernel's
    (:func:`~dataeval_gpu.functional.quality_block_compiled.block_figures`)."""
    b, _, h, w = g255.shape
    hits = torch.zeros(b, dtype=torch.float64, device=g255.device)
    checks, imbalance = torch.zeros_like(hits), torch.zeros_like(hits)
    tiles, excess = torch.zeros_like(hits), torch.zeros_like(hits)
    ph = torch.zeros(b, 8, dtype=torch.float64, device=g255.device)
    pn = [0] * 8
    total = 0
    rows, cols = w >= 64 and h >= 8, h >= 64 and w >= 8
    for dim, size, n8 in ((3, w, h // 8), (2, h, w // 8)):
        if size < 64 or n8 == 0:
            continue
        step = (g255.narrow(dim, 1, size - 1) - g255.narrow(dim, 0, size - 1))[:, 0]
        on, left, right = _border_sides(size, g255.device)
        signed = step.index_select(dim - 1, on).to(torch.float64)
        step = step.abs().to(torch.float64)
        if dim == 3:  # (B, H, W - 1): the rows in groups of 8
            seg = step[:, : n8 * 8].reshape(b, n8, 8, size - 1).sum(dim=2)
            sgn = signed[:, : n8 * 8].reshape(b, n8, 8, -1).sum(dim=2)
        else:  # (B, H - 1, W): the columns in groups of 8
            seg = step[..., : n8 * 8].reshape(b, size - 1, n8, 8).sum(dim=3).transpose(1, 2)
            sgn = signed[..., : n8 * 8].reshape(b, -1, n8, 8).sum(dim=3).transpose(1, 2)
        side = torch.maximum(seg.index_select(2, left), seg.index_select(2, right))
        hit = (seg.index_select(2, on) - side) > 8.0 * BLOCK_STEP
        hits += hit.sum(dim=(1, 2))
        line = (seg.index_select(2, on) - side).clamp(min=0.0).sum(dim=1)  # (B, K) each line's excess
        tiles += tile_lines(line, n8)
        excess += line.sum(dim=1)
        _phase_hits(seg, ph, pn)
        c, d = _grid_pattern(hit, sgn)
        checks += c
        imbalance += d
        total += n8 * on.numel()
    if not total:
        return None
    n = hits.clamp(min=1.0)
    phase = (imbalance - hits.sqrt()).clamp(min=0.0) / n
    period = torch.where(hits > 0, period_share(g255, rows, cols), torch.zeros_like(hits))
    tile = torch.where((hits > 0) & (excess > 0), tiles / excess.clamp(min=TINY), torch.zeros_like(hits))
    pattern = torch.maximum(torch.maximum(torch.maximum(checks / n, phase), period), tile)
    return hits / total, pattern, grid_share(hits, total, ph, pn)


def block_spread(g255: torch.Tensor) -> torch.Tensor | None:
    """The share ``(B,)`` float64 of the 8-px border segments of ``(B, 1, H, W)`` that step
    (:func:`block_figures`' first figure); None when there are none."""
    figures = block_figures(g255)
    return None if figures is None else figures[0]


def spread_factor(ratio: torch.Tensor, g255: torch.Tensor) -> torch.Tensor:
    """``ratio`` times ``min(1, share / BLOCK_SPREAD) ** 2`` of :func:`block_figures`' share and its
    pattern weight, 1 up to ``PATTERN_LO``, 0 from ``PATTERN_HI``; of that the excess over 1 times the
    grid weight, 1 up to ``GRID_LO``, 0 from ``GRID_HI`` (the twin of
    :func:`~dataeval_gpu.functional.quality_block_compiled.grid_excess`; unchanged without border
    segments)."""
    figures = block_figures(g255)
    if figures is None:
        return ratio
    share, pattern, grid = figures
    keep = ((PATTERN_HI - pattern) / (PATTERN_HI - PATTERN_LO)).clamp(min=0.0, max=1.0)
    value = ratio * ((share / BLOCK_SPREAD).clamp(max=1.0) ** 2 * keep).to(ratio.dtype)
    on_grid = ((GRID_HI - grid) / (GRID_HI - GRID_LO)).clamp(min=0.0, max=1.0).to(ratio.dtype)
    return torch.where(value > 1.0, 1.0 + (value - 1.0) * on_grid, value)  # grid_excess


def replica_reference(odd: torch.Tensor, even: torch.Tensor, mid: torch.Tensor, four: torch.Tensor, off: torch.Tensor) -> torch.Tensor:
    """``(B,)`` the mean step off the 8-px borders that ``blockiness`` divides by: ``off``, or on the
    grid of a picture enlarged 2 (4) times by repeating its pixels ``even`` (``four``) - the torch
    twin of :func:`~dataeval_gpu.functional.quality_block_compiled.replica_off` (NaN: kept)."""
    times4 = (four > 0.0) & (torch.maximum(odd, mid) <= REPLICA_QUIET * four)
    times2 = (even > 0.0) & (odd <= REPLICA_QUIET * even)
    return torch.where(times4, four, torch.where(times2, even, off))


def blockiness(g255: torch.Tensor) -> torch.Tensor:
    """Mean step across the 8-px borders over the mean step elsewhere (at least ``BLOCK_FLOOR``;
    of a picture enlarged by repeating its pixels, on its own grid: :func:`replica_reference`)
    of ``(B, 1, H, W)`` on 0..255, both directions of a side of at least 64 px pooled, times the
    spread factor of :func:`spread_factor`; 1 when none is measured or nothing steps off the borders."""
    b, _, h, w = g255.shape
    num = torch.zeros(b, dtype=g255.dtype, device=g255.device)
    den = torch.zeros_like(num)
    nb = torch.zeros_like(num)
    no = torch.zeros_like(num)
    group_sum = torch.zeros(4, b, dtype=g255.dtype, device=g255.device)
    group_n = [0, 0, 0, 0]
    for dim, size in ((3, w), (2, h)):
        if size < 64:
            continue
        step = (g255.narrow(dim, 1, size - 1) - g255.narrow(dim, 0, size - 1)).abs()
        step = step.mean(dim=2 if dim == 3 else 3).reshape(b, size - 1)  # mean step per border
        border, other = block_lines(size, g255.device)  # index tensors: no device sync
        num += step.index_select(1, border).sum(dim=1)
        nb += border.numel()
        den += step.index_select(1, other).sum(dim=1)
        no += other.numel()
        for k, lines in enumerate(block_phases(size, g255.device)):
            group_sum[k] += step.index_select(1, lines).sum(dim=1)
            group_n[k] += lines.numel()
    at = num / nb.clamp(min=1)
    groups = [s / n if n else torch.full_like(s, float("nan")) for s, n in zip(group_sum, group_n)]
    off = replica_reference(*groups, den / no.clamp(min=1))
    return torch.where((nb > 0) & (off > TINY), spread_factor(at / off.clamp(min=BLOCK_FLOOR), g255), torch.ones_like(at))
