"""NearDuplicates' precision rules: the local rule of embedding pairs, plain images' hashes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dataeval_gpu.detectors.near_duplicates import (
    ENTROPY_EPS,
    ENTROPY_RATIO,
    LOCAL_CAP,
    PLAIN_SHARE,
    embedding_groups,
    grey_entropy,
    hash_groups,
    pixel_std,
    plain_share,
)


def _cluster(rng: np.random.Generator, n: int, spread: float) -> np.ndarray:
    """``n`` unit vectors around one centre: pairwise cosine about ``1 / (1 + spread**2)``."""
    centre = rng.normal(size=64)
    centre /= np.linalg.norm(centre)
    x = centre + spread * rng.normal(size=(n, 64)) / np.sqrt(64)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_local_rule_drops_look_alikes_keeps_a_true_copy() -> None:
    rng = np.random.default_rng(0)
    look_alikes = _cluster(rng, 14, 0.3)  # 14 distinct images that all look alike (cos ~0.92)
    spread_out = rng.normal(size=(20, 64))  # unrelated images
    emb = np.vstack([look_alikes, spread_out, look_alikes[:1] + 0.02 * rng.normal(size=(1, 64))])
    e = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    cos = e @ e.T
    assert cos[0, 34] >= LOCAL_CAP and 0.88 < np.median(cos[:14, :14]) < LOCAL_CAP
    # without the local rule the look-alikes form groups at 0.88
    plain = embedding_groups(emb, 0.88, k=10, backend="torch", margin=None)
    assert sum(len(g) for g in plain) > 10
    # with it, only the copy (above the cap) stays with its original
    assert embedding_groups(emb, 0.88, k=10, backend="torch") == [[0, 34]]
    # hand check of the bar for one pair: the pair's cosine against each side's 10th neighbour + margin
    tenth = np.sort(cos - 2 * np.eye(len(e)), axis=1)[:, -10]
    assert max(tenth[1], tenth[2]) + 0.1 > cos[1, 2]


def test_plain_images_match_only_at_distance_zero() -> None:
    black = np.zeros((3, 40, 40), np.uint8)
    black[:, 10:20, 10:20] = 200  # a small object on black: 94 % clipped
    photo = np.random.default_rng(1).integers(20, 230, (3, 40, 40), dtype=np.uint8)
    share = plain_share([torch.from_numpy(black), torch.from_numpy(photo)])
    assert share[0] == pytest.approx(1 - 100 / 1600) and share[1] == 0.0
    assert share[0] >= PLAIN_SHARE > share[1]
    h = torch.tensor([0b1111, 0b1110, 0b0101_0000_0000, 0b0101_0000_0001])  # 0~1 and 2~3 at distance 1
    ok = torch.ones(4, dtype=torch.bool)
    assert hash_groups(h, ok, [], 1) == [[0, 1], [2, 3]]
    plain = np.array([0.9, 0.0, 0.0, 0.0])  # image 0 is plain: its distance-1 pair goes
    assert hash_groups(h, ok, [], 1, plain=plain) == [[2, 3]]
    h2 = h.clone()
    h2[1] = h2[0]  # at distance 0 a plain image still matches
    assert hash_groups(h2, ok, [], 1, plain=plain) == [[0, 1], [2, 3]]


def test_grey_entropy_matches_numpy() -> None:
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (3, 30, 40), dtype=np.uint8)
    two = np.zeros((1, 10, 10), np.uint8)
    two[0, :5] = 255  # half black, half white: exactly 1 bit
    t = 299 * img[0].astype(int) + 587 * img[1].astype(int) + 114 * img[2].astype(int)
    lev = t // 1000 + ((t % 1000 > 500) | ((t % 1000 == 500) & (t // 1000 % 2 == 1)))  # ties to even
    p = np.bincount(lev.ravel(), minlength=256) / lev.size
    p = p[p > 0]
    got = grey_entropy([torch.from_numpy(img), torch.from_numpy(two)])
    assert got[0] == pytest.approx(float(-(p * np.log2(p)).sum()), rel=1e-12)
    assert got[1] == pytest.approx(1.0)
    # the same as the quality metric DataAudit's hash pairs use
    from dataeval_gpu.functional.quality import quality_metrics

    assert got[0] == pytest.approx(float(quality_metrics([img])["grey_entropy"][0]), rel=1e-5)


def test_hash_pairs_need_similar_grey_entropy() -> None:
    """Distinct dark, centred objects hash alike (a nebula and a globular cluster at distance 0);
    their grey entropies tell them apart, while a copy's entropy stays within ENTROPY_RATIO."""
    h = torch.tensor([7, 7, 7, 7])
    ok = torch.ones(4, dtype=torch.bool)
    assert hash_groups(h, ok, [], 0) == [[0, 1, 2, 3]]
    ent = np.array([5.0, 5.6, 2.0, 0.5])
    # 5.6 + eps within 1.5x of 5.0 + eps; 2.0 and 0.5 are not within 1.5x of anything here
    assert (5.6 + ENTROPY_EPS) <= ENTROPY_RATIO * (5.0 + ENTROPY_EPS)
    assert (2.0 + ENTROPY_EPS) > ENTROPY_RATIO * (0.5 + ENTROPY_EPS)
    assert hash_groups(h, ok, [], 0, entropy=ent) == [[0, 1]]


def test_hash_pairs_need_similar_contrast() -> None:
    """Pixel standard deviations within SPREAD_RATIO (a contrast change by 0.7 passes); the
    values are DataEval 0.65's ``std`` as the audit's statistics have it."""
    from dataeval_gpu.detectors.near_duplicates import SPREAD_EPS, SPREAD_RATIO
    from dataeval_gpu.metrics import imagestats

    rng = np.random.default_rng(4)
    imgs = [torch.from_numpy(rng.integers(0, 256, (3, 20, 30), dtype=np.uint8)) for _ in range(2)]
    imgs.append(torch.from_numpy(rng.integers(100, 140, (1, 20, 30), dtype=np.uint8)))
    np.testing.assert_allclose(pixel_std(imgs), np.asarray(imagestats(imgs).std, dtype=np.float64), rtol=1e-9)
    h = torch.tensor([5, 5, 5])
    ok = torch.ones(3, dtype=torch.bool)
    spread = np.array([0.30, 0.30 * 0.7, 0.05])
    assert (0.30 + SPREAD_EPS) <= SPREAD_RATIO * (0.21 + SPREAD_EPS)
    assert hash_groups(h, ok, [], 0, spread=spread) == [[0, 1]]


def _textured_blob(seed: int, size: int = 160) -> np.ndarray:
    """A dark picture with one bright elliptical object whose inner texture (5-px cells, about
    one thumbnail pixel) depends on ``seed``: distinct objects of the same coarse layout."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:size, :size].astype(float)
    mask = np.exp(-(((x - 0.45 * size) / (0.16 * size)) ** 2) - ((y - 0.42 * size) / (0.11 * size)) ** 2)
    tex = np.kron(rng.normal(size=(size // 5, size // 5)), np.ones((5, 5)))
    grey = 14 + 150 * mask + 30 * tex * mask + rng.normal(0, 1.5, (size, size))
    return np.clip(np.round(np.stack([grey * 0.95, grey, grey * 1.05])), 0, 255).astype(np.uint8)


def _jpeg(a: np.ndarray, quality: int = 75) -> np.ndarray:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.moveaxis(a, 0, -1)).save(buf, "JPEG", quality=quality)
    return np.ascontiguousarray(np.moveaxis(np.asarray(Image.open(buf)), -1, 0))


def test_thumbnail_check_drops_look_alike_objects_keeps_copies() -> None:
    from dataeval_gpu.audit import DataAudit
    from dataeval_gpu.detectors.near_duplicates import VERIFY_MIN, NearDuplicates
    from dataeval_gpu.functional.hashing import detail_correlation, hamming_distance, near_hash

    a, b = _textured_blob(1), _textured_blob(2)
    c = 8  # 5 % of 160 px per side
    imgs = [a, b, a[:, :, ::-1].copy(), _jpeg(a), np.ascontiguousarray(a[:, c:-c, c:-c])]
    ts = [torch.from_numpy(i) for i in imgs]
    h, _ = near_hash(ts, "pchash_d4")
    assert int(hamming_distance(h[:1], h[1:2])[0]) == 0  # the two objects hash alike
    nd = NearDuplicates(embedding_threshold=None)
    th = nd.thumbnails(ts)
    assert th.shape == (5, 3, 32, 32)
    # the whole thumbnails: the other object's detail does not correlate, the copies' does
    score = detail_correlation(th[[0, 0, 0], 0], th[[1, 2, 3], 0])
    assert score[0] < 0.5 < VERIFY_MIN < score[1:].min()
    assert detail_correlation(th[4:, 0], th[:1, 1])[0] >= VERIFY_MIN  # the crop against the 90 % view
    assert nd.evaluate(ts).hash == [[0, 2, 3, 4]]
    # without the thumbnails every other check lets the look-alike in
    hashes = nd.hasher.hashes(ts)
    crops = [(nd.crop_hasher.hashes([t[:, 8:-8, 8:-8] for t in ts]).near, hashes.near_valid)]
    assert hash_groups(hashes.near, hashes.near_valid, crops, 2) == [[0, 1, 2, 3, 4]]
    # the scan's rows give the same groups (thumbnails kept per image beside the crop hashes)
    audit = DataAudit(device="cpu", embeddings=False)
    audit.update(ts)
    assert audit.compute().duplicates["near"] == [[0, 2, 3, 4]]


def test_pairs_without_a_thumbnail_stay_within_the_unverified_radius() -> None:
    """An image under 33 px a side has an all-zero thumbnail: its pairs cannot be verified, so
    they are kept only within UNVERIFIED_RADIUS (2), not the verified radius (4)."""
    from dataeval_gpu.detectors.near_duplicates import UNVERIFIED_RADIUS

    rng = np.random.default_rng(7)
    tex = rng.integers(0, 256, (32, 32)).astype(np.uint8)
    thumbs = np.zeros((4, 1, 32, 32), dtype=np.uint8)
    thumbs[0, 0] = thumbs[3, 0] = tex  # 0 and 3: verifiable copies; 1 and 2: no thumbnail
    # distances from 0: 4 (1), 2 (2), 4 (3); 1-2: 6, 1-3: 8, 2-3: 6
    h = torch.tensor([0, 0b1111, 0b11 << 20, 0b1111 << 40], dtype=torch.int64)
    ok = torch.ones(4, dtype=torch.bool)
    assert UNVERIFIED_RADIUS == 2
    assert hash_groups(h, ok, [], 4) == [[0, 1, 2, 3]]  # no thumbnails given: the radius as asked
    assert hash_groups(h, ok, [], 4, thumbs=thumbs) == [[0, 2, 3]]
    assert hash_groups(h, ok, [], 4, thumbs=thumbs.reshape(4, -1)) == [[0, 2, 3]]  # the scan's flat rows
    thumbs[3, 0] = rng.integers(0, 256, (32, 32))  # 3's detail unrelated: verified and dropped
    assert hash_groups(h, ok, [], 4, thumbs=thumbs) == [[0, 2]]


FASHION = __import__("pathlib").Path(__file__).resolve().parents[2] / "data_cache" / "fashion-mnist"


@pytest.mark.skipif(not (FASHION / "t10k-images-idx3-ubyte.gz").exists(), reason="Fashion-MNIST not fetched")
def test_small_look_alikes_are_not_grouped_at_the_verified_radius() -> None:
    """Fashion-MNIST's 28 x 28 garments have no thumbnail; these six distinct ones (test set,
    two silhouette groups, whole images or crops at Hamming distance 4) were grouped at the default radius 4."""
    import gzip

    from dataeval_gpu.audit import DataAudit
    from dataeval_gpu.detectors.near_duplicates import NearDuplicates
    from dataeval_gpu.functional.hashing import hamming_distance, near_hash

    with gzip.open(FASHION / "t10k-images-idx3-ubyte.gz") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    ts = [torch.from_numpy(x[i].copy()) for i in (101, 285, 2647, 148, 258, 1598)]
    h, _ = near_hash(ts, "pchash_d4")
    d = hamming_distance(h[[0, 0, 3, 3]], h[[1, 2, 4, 5]])
    assert int(d.min()) == 4  # within the verified radius, beyond the unverified one
    assert NearDuplicates(embedding_threshold=None).evaluate(ts).hash == []
    audit = DataAudit(device="cpu", embeddings=False)
    audit.update(ts)
    assert audit.compute().duplicates["near"] == []


def test_audit_without_crops_verifies_as_near_duplicates_without_crops() -> None:
    """DataAudit(near_crops=()) kept no thumbnails, so its near groups took every hash pair
    unverified (two distinct objects hashing alike at distance 0 grouped), where
    NearDuplicates(crops=()) verifies them; the 0.65 preset (no near groups) keeps none."""
    from dataeval_gpu.audit import DataAudit
    from dataeval_gpu.detectors.near_duplicates import NearDuplicates

    a, b = _textured_blob(1), _textured_blob(2)
    ts = [torch.from_numpy(i) for i in (a, b, _jpeg(a))]
    assert NearDuplicates(embedding_threshold=None, crops=()).evaluate(ts).hash == [[0, 2]]
    audit = DataAudit(device="cpu", near_crops=())
    audit.update(ts)
    assert audit.compute().duplicates["near"] == [[0, 2]]
    _, rows, _ = audit.measured_rows()
    assert rows["pchash_thumbs"].shape == (3, 32 * 32) and "pchash_crops" not in rows
    plain = DataAudit(device="cpu", preset="dataeval-0.65")
    plain.update(ts)
    assert "pchash_thumbs" not in plain.measured_rows()[1]


def disc_icons(seed: int = 0) -> list[np.ndarray]:
    """Four different textures in the same opaque disc on a transparent ground (stored black,
    as most RGBA icons are), each with a local edit: their near hashes see mostly the shared
    silhouette (4-12 bits apart), and a copy of the first 4 levels brighter (0 bits from it)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:96, 0:96]
    alpha = (np.hypot(yy - 48, xx - 48) < 30).astype(np.uint8) * 255
    out = []
    for _ in range(4):
        tex = np.clip(rng.normal(128, 50, (3, 96, 96)).cumsum(axis=2) / 8 % 256, 0, 255)
        icon = np.concatenate([tex * (alpha > 0), alpha[None]]).astype(np.uint8)
        edit = icon.copy()
        edit[:3, 40:46, 40:46] = 255 - edit[:3, 40:46, 40:46]
        out += [icon, edit]
    dim = out[0].astype(float)
    dim[:3] = np.clip(dim[:3] + 4, 0, 255) * (alpha > 0)
    return [*out, dim.astype(np.uint8)]


def test_icons_sharing_a_silhouette_are_not_near_duplicates() -> None:
    """The quality metrics of an image with alpha judge its visible pixels (none clipped here),
    the near hash the whole image (70 % black ground): the pair rules count the transparent
    ground in (plain_and_entropy), so different icons in one silhouette are not paired (the
    scan paired 2 and 6 after the metrics changed), the brightened copy still is, and the scan and
    NearDuplicates agree."""
    from dataeval_gpu.audit import DataAudit
    from dataeval_gpu.detectors import NearDuplicates
    from dataeval_gpu.functional.quality import quality_metrics

    imgs = [torch.from_numpy(a) for a in disc_icons()]
    audit = DataAudit()
    audit.update(imgs)
    got = audit.compute().duplicates["near"]
    # 1 is 0 with a 6 x 6 patch inverted (one picture, 0.4 % of it edited): paired since the D4
    # hash reads luma (luma13), whose texture here has more contrast than the three channels' mean
    assert got == [[0, 1, 8]]
    assert NearDuplicates(embedding_threshold=None).evaluate(imgs).hash == got
    # the figures, by hand: o = share of the disc, none of its pixels clipped
    m = quality_metrics(imgs[:1])
    o = float(m["opacity"][0])
    assert o == pytest.approx(np.mean(imgs[0][3].numpy() == 255)) and float(m["dark_clipped"][0]) < 0.01
    clipped = float(m["dark_clipped"][0] + m["bright_clipped"][0])
    h = float(m["grey_entropy"][0])
    hb = -o * np.log2(o) - (1 - o) * np.log2(1 - o)
    assert plain_share(imgs[:1])[0] == pytest.approx((1 - o) + o * clipped, rel=1e-12)
    assert grey_entropy(imgs[:1])[0] == pytest.approx(hb + o * h, rel=1e-12)
    assert plain_share(imgs[:1])[0] >= PLAIN_SHARE  # a plain-background picture, as its hash sees it
    # opaque images: the metrics as they are, bit for bit
    from dataeval_gpu.detectors.hash_pairs import plain_and_entropy

    c, e = np.array([0.1, 0.3]), np.array([7.5, 2.0])
    p2, e2 = plain_and_entropy(c, e, np.ones(2))
    assert p2.tobytes() == c.tobytes() and e2.tobytes() == e.tobytes()


def _smooth(seed: int, size: int = 96) -> np.ndarray:
    """A smooth random grey-level picture, ``(3, size, size)`` uint8 (bilinear upsampling of 6 x 6 noise)."""
    small = torch.from_numpy(np.random.default_rng(seed).uniform(30, 220, (1, 1, 6, 6)))
    big = torch.nn.functional.interpolate(small, size=(size, size), mode="bilinear", align_corners=True)
    return big[0].expand(3, -1, -1).round().to(torch.uint8).numpy().copy()


def test_look_check_numpy_reference() -> None:
    from dataeval_gpu.functional.hashing.thumbs import look_check

    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (4, 32, 32)).astype(np.uint8)
    y = rng.integers(0, 256, (4, 32, 32)).astype(np.uint8)
    y[1] = np.rot90(x[1], 1)  # a rotated copy: best of the 8 views is 1
    y[2] = 7  # flat: nothing to compare
    score, checked = look_check(x, y)
    ref = max(
        np.corrcoef(x[0].ravel().astype(float), np.rot90(v, r).ravel().astype(float))[0, 1]
        for v in (y[0], y[0].T)
        for r in range(4)
    )
    assert score[0] == pytest.approx(ref, abs=1e-12)
    assert score[1] == pytest.approx(1.0) and checked.tolist() == [True, True, False, True]
    assert score[2] == 1.0


def test_embedding_pairs_must_look_alike() -> None:
    """Two different pictures whose embeddings agree (two screenshots of one program, two tiles
    of one panorama) are not near duplicates; a brightened copy of one of them still is."""
    from dataeval_gpu.detectors.near_duplicates import LOOK_MIN, NearDuplicates, look_alike

    a, b = _smooth(1), _smooth(2)
    copy = np.clip(a.astype(int) + 20, 0, 255).astype(np.uint8)
    images = [torch.from_numpy(x) for x in (a, b, copy)]
    emb = np.ones((3, 8))  # the embeddings cannot tell any of the three apart
    thumbs = NearDuplicates().thumbnails(images).numpy()
    alike, checked = look_alike(thumbs, np.array([0, 0]), np.array([1, 2]))
    assert checked.all() and alike.tolist() == [False, True]
    ref = np.corrcoef(thumbs[0, 0].ravel().astype(float), thumbs[1, 0].ravel().astype(float))[0, 1]
    assert ref < LOOK_MIN
    assert embedding_groups(emb, backend="torch") == [[0, 1, 2]]  # without the check: one group
    assert embedding_groups(emb, backend="torch", thumbs=thumbs) == [[0, 2]]
    out = NearDuplicates(radius=0, crops=()).evaluate(images, embeddings=emb)
    assert out.embedding == [[0, 2]] and [0, 1] not in out.groups and [0, 1, 2] not in out.groups


def test_embedding_pairs_of_small_images_are_compared_on_their_enlarged_squares() -> None:
    """Images under 33 px a side had no thumbnail, and their embedding pairs were kept as the
    embeddings found them (icons at 16-32 px: docs/quality.md); their thumbnail is now their hash
    square enlarged to 32 x 32, so three different smooth 24 px pictures (cosines 0.92-0.99) no
    longer pass the look check, while a copy of one, 2 levels brighter, does.  Without thumbnails
    the pairs are kept as before."""
    from dataeval_gpu.detectors.near_duplicates import NearDuplicates

    images = [torch.from_numpy(_smooth(s, 24)) for s in (1, 2, 3)]
    images.append(images[0] + 2)
    thumbs = NearDuplicates().thumbnails(images).numpy()
    assert thumbs[:, 0].reshape(4, -1).std(axis=1).min() > 10  # the 16 px square, enlarged
    emb = np.array([[1.0, 0.0], [0.92, -np.sqrt(1 - 0.92**2)], [0.99, np.sqrt(1 - 0.99**2)], [1.0, 0.001]])
    sides = np.full((4, 2), 24.0)
    assert embedding_groups(emb, backend="torch", margin=None) == [[0, 1, 2, 3]]
    assert embedding_groups(emb, backend="torch", margin=None, thumbs=thumbs, sides=sides) == [[0, 3]]


def test_audit_embedding_groups_use_the_thumbnails() -> None:
    """The scan's embedding groups take the same look check, on the rows it keeps (pchash_thumbs)."""
    from dataeval_gpu.audit.embedded import embedding_duplicate_groups
    from dataeval_gpu.detectors.near_duplicates import NearDuplicates

    images = [torch.from_numpy(x) for x in (_smooth(1), _smooth(2), _smooth(1))]
    thumbs = NearDuplicates().thumbnails(images).reshape(3, -1)
    idx = torch.tensor([10, 11, 12])
    emb = torch.ones(3, 8)
    assert embedding_duplicate_groups(idx, emb) == [[10, 11, 12]]
    # rows keyed by dataset index, in another order than the embeddings'
    order = np.array([12, 10, 11])
    assert embedding_duplicate_groups(idx, emb, thumbs[[2, 0, 1]], order) == [[10, 12]]


def _drawn_icon(seed: int, size: int = 128) -> np.ndarray:
    """A smooth coloured drawing in a disc on a transparent ground (72 % transparent), RGBA."""
    small = torch.from_numpy(np.random.default_rng(seed).uniform(30, 220, (1, 3, 5, 5)))
    tex = torch.nn.functional.interpolate(small, size=(size, size), mode="bicubic", align_corners=True)
    yy, xx = np.mgrid[0:size, 0:size]
    alpha = (np.hypot(yy - size / 2, xx - size / 2) < size * 0.3).astype(np.uint8) * 255
    return np.concatenate([tex[0].clamp(20, 235).numpy() * (alpha > 0), alpha[None]]).astype(np.uint8)


def test_icons_on_transparent_pair_across_sizes_when_their_drawing_verifies() -> None:
    """An icon and its 96-px resize (4 bits apart; 2 when the D4 hash read the channel mean) were
    held to the plain-background radius 0; two images with a transparent ground whose thumbnails
    verify inside the silhouette too now pair within the radius, while another drawing in the same
    disc (also 4 bits away) does not."""
    from PIL import Image

    from dataeval_gpu.audit import DataAudit
    from dataeval_gpu.detectors import NearDuplicates
    from dataeval_gpu.functional.hashing import hamming_distance

    big = _drawn_icon(0)
    small = Image.fromarray(np.moveaxis(big, 0, -1)).resize((96, 96), Image.Resampling.LANCZOS)
    imgs = [torch.from_numpy(x) for x in (big, np.moveaxis(np.asarray(small), -1, 0).copy(), _drawn_icon(2))]
    nd = NearDuplicates(embedding_threshold=None)
    h = nd.hasher.hashes(imgs).near
    assert [int(hamming_distance(h[:1], h[k : k + 1])[0]) for k in (1, 2)] == [4, 4]
    assert (plain_share(imgs) >= PLAIN_SHARE).all()
    assert nd.evaluate(imgs).hash == [[0, 1]]
    audit = DataAudit()
    audit.update(imgs)
    assert audit.compute().duplicates["near"] == [[0, 1]]


def test_interior_detail_check_numpy_reference() -> None:
    from dataeval_gpu.functional.hashing.thumbs import interior_detail_check

    def ref(x: np.ndarray, y: np.ndarray) -> float:
        def detail(a: np.ndarray) -> np.ndarray:
            p = np.pad(a, 1, mode="edge")
            return a - sum(p[dy : dy + 32, dx : dx + 32] for dy in range(3) for dx in range(3)) / 9.0

        def inner(a: np.ndarray) -> np.ndarray:
            c = np.pad((a <= 5) | (a >= 250), 1, mode="edge")
            return ~np.any([c[dy : dy + 32, dx : dx + 32] for dy in range(3) for dx in range(3)], axis=0)

        best = -np.inf
        for t in (y, y.T):
            for r in range(4):
                v = np.rot90(t, r)
                m = inner(x) & inner(v)
                best = max(best, np.corrcoef(detail(x)[m], detail(v)[m])[0, 1])
        return best

    rng = np.random.default_rng(5)
    x = rng.integers(0, 256, (3, 32, 32)).astype(np.float64)
    x[:, :8] = 0  # a plain band: its edge is left out
    y = x + rng.normal(0, 30, x.shape)
    y[1] = rng.integers(0, 256, (32, 32))
    y[2] = np.rot90(x[2], 3)
    x, y = x.round().clip(0, 255), y.round().clip(0, 255)
    score, checked = interior_detail_check(x.astype(np.uint8), y.astype(np.uint8))
    assert checked.all()
    for p in range(3):
        assert score[p] == pytest.approx(ref(x[p], y[p]), abs=1e-9)
    assert score[2] == pytest.approx(1.0)
    flat = np.zeros((1, 32, 32), np.uint8)  # all ground: nothing inside to compare
    assert interior_detail_check(flat, flat)[1].tolist() == [False]


def test_crops_under_the_full_hash_square_are_not_hashed() -> None:
    """A central crop counts only from CROP_MIN_SIDE (33 px, the pchash's full 32 x 32 square) a
    side: a 28 x 28 image's crops (26 and 22 px) are invalid (hash 0), a 40 x 400 one's 0.8 crop
    (32 px) too, its 0.9 crop (36 px) and a photo's are hashed."""
    from dataeval_gpu.accumulators.hash_rows import CROP_MIN_SIDE, hash_rows

    rng = np.random.default_rng(0)
    ims = [torch.from_numpy(rng.integers(0, 256, s, dtype=np.uint8)) for s in ((1, 28, 28), (3, 40, 400), (3, 300, 400))]
    out = hash_rows(ims, "pchash_d4", exact=False, crops=(0.9, 0.8))
    assert CROP_MIN_SIDE == 33
    assert out["crops_valid"].tolist() == [[False, False], [True, False], [True, True]]
    assert out["crops"][0].tolist() == [0, 0] and out["crops"][1, 1].item() == 0
    assert bool((out["crops"][2] != 0).all())


@pytest.mark.skipif(not (FASHION / "t10k-images-idx3-ubyte.gz").exists(), reason="Fashion-MNIST not fetched")
def test_small_images_do_not_pair_through_their_crops() -> None:
    """Ten different long-sleeved garments of Fashion-MNIST's test set formed one near group at
    the default settings through their crops' hashes (a crop of a 28 px image is hashed on a
    16-24 px square: the outline only); without crop views only the whole-image pairs within
    the unverified radius (2 bits) remain, in the scan and in NearDuplicates alike."""
    import gzip

    from dataeval_gpu.audit import DataAudit
    from dataeval_gpu.detectors.hash_pairs import UNVERIFIED_RADIUS
    from dataeval_gpu.detectors.near_duplicates import NearDuplicates
    from dataeval_gpu.functional.hashing import hamming_distance, near_hash

    with gzip.open(FASHION / "t10k-images-idx3-ubyte.gz") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    ts = [torch.from_numpy(x[i].copy()) for i in (2899, 3471, 4868, 6001, 7592, 7699, 7816, 7943, 9785, 9806)]
    audit = DataAudit(device="cpu", embeddings=False)
    audit.update(ts)
    # the whole-image pairs within the unverified radius (2 bits) that were left - three shirts,
    # two jackets, distinct garments - are verified on the enlarged 24 px squares since
    # (SMALL_VERIFY_MIN 0.95: their detail correlates at most 0.85) and dropped
    assert audit.compute().duplicates["near"] == []
    assert NearDuplicates(embedding_threshold=None).evaluate(ts).hash == []
    h, _ = near_hash(ts, "pchash_d4")
    assert int(hamming_distance(h[[2, 2, 6]], h[[3, 9, 8]]).max()) <= UNVERIFIED_RADIUS


def test_plain_images_pair_only_at_their_level() -> None:
    """Constant images hash alike whatever their grey or colour, and have no entropy, spread or
    thumbnail detail to tell them apart: the default scan grouped grey 60, 128, 129, 200, 255
    and the reds (200, 0, 0) / (150, 0, 0) as near duplicates.  A flat image (FLAT_ENTROPY) now
    pairs only within LEVEL_TOLERANCE of its mean level (128 and 129 still do), in the scan and in
    NearDuplicates; the 0.65 preset keeps 0.65's one group of equal pchashes."""
    from dataeval_gpu.audit import DataAudit
    from dataeval_gpu.detectors.hash_pairs import FLAT_ENTROPY, LEVEL_TOLERANCE, PairFigures, hash_pairs_ok
    from dataeval_gpu.detectors.near_duplicates import NearDuplicates

    ims = [np.full((3, 64, 64), v, np.uint8) for v in (0, 60, 128, 129, 200, 255)]
    for red in (200, 150):
        im = np.zeros((3, 64, 64), np.uint8)
        im[0] = red
        ims.append(im)
    ts = [torch.from_numpy(a) for a in ims]
    audit = DataAudit(device="cpu", embeddings=False)
    audit.update(ts)
    assert audit.compute().duplicates["near"] == [[2, 3]]
    assert NearDuplicates(embedding_threshold=None).evaluate(ts).hash == [[2, 3]]
    old = DataAudit(device="cpu", preset="dataeval-0.65")
    old.update(ts)
    assert old.compute().duplicates["near"] == [[1, 2, 3, 4, 5, 6, 7]]
    # the rule alone: flat on either side and 3 levels apart -> dropped; 1 level -> kept; not flat -> kept
    figs = PairFigures(entropy=np.array([0.0, 0.0, 0.0, 5.0, 5.0]), level=np.array([100, 103, 101, 100, 160]) / 255)
    i, v, z = np.array([0, 0, 3]), np.zeros(3, dtype=np.int64), np.zeros(3)
    assert FLAT_ENTROPY == 0.1 and LEVEL_TOLERANCE == 2 / 255
    assert hash_pairs_ok(figs, figs, i, v, np.array([1, 2, 4]), v, z, 4).tolist() == [False, True, True]


def _gradient(h: int, w: int) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    g = (x / max(w - 1, 1) * 200 + y / max(h - 1, 1) * 40).astype(np.uint8)
    return np.stack([g, g // 2, 255 - g])


def test_embedding_pairs_without_thumbnails_keep_their_shape() -> None:
    """Three smooth gradients of 40 x 30, 33 x 33 and 10000 x 20 px (the default model's cosines
    0.914, 0.723, 0.630: the first pair was an embedding group) have no thumbnail pair to
    compare (30 and 20 px sides): their shapes differ (1.33, 1, 500), so only a cosine of
    LOCAL_CAP pairs them; a same-shaped pair without thumbnails is kept as before, and an image
    under 9 px a side needs LOCAL_CAP too."""
    from dataeval_gpu.audit.embedded import embedding_duplicate_groups
    from dataeval_gpu.detectors.near_duplicates import (
        ASPECT_TOLERANCE,
        LOCAL_CAP,
        NearDuplicates,
        embedding_groups,
    )

    emb = np.array([[1.0, 0.0, 0.0], [0.914, np.sqrt(1 - 0.914**2), 0.0], [0.723, -0.3, np.sqrt(1 - 0.723**2 - 0.09)]])
    ims = [_gradient(30, 40), _gradient(33, 33), _gradient(20, 10000)]
    sides = np.array([im.shape[1:] for im in ims], dtype=np.float64)
    assert ASPECT_TOLERANCE == 1.25 and LOCAL_CAP == 0.95
    assert embedding_groups(emb, margin=None) == [[0, 1]]  # the cosine alone
    assert embedding_groups(emb, margin=None, sides=sides) == []
    assert embedding_groups(emb, margin=None, sides=np.array([[30, 40], [31, 40], [9, 9]])) == [[0, 1]]
    assert embedding_groups(emb, margin=None, sides=np.array([[30, 40], [8, 8], [9, 9]])) == []
    near = emb.copy()
    near[1] = [0.96, 0.28, 0.0]  # nearly identical: kept whatever the shapes
    assert embedding_groups(near, margin=None, sides=sides) == [[0, 1]]
    ts = [torch.from_numpy(a) for a in ims]
    assert NearDuplicates().evaluate(ts, embeddings=emb).embedding == []
    rows = {"height": torch.tensor(sides[:, 0]), "width": torch.tensor(sides[:, 1])}
    idx, e = torch.tensor([5, 6, 7]), torch.from_numpy(emb).float()
    assert embedding_duplicate_groups(idx, e, None, np.array([5, 6, 7])) == [[5, 6]]
    assert embedding_duplicate_groups(idx, e, None, np.array([5, 6, 7]), rows) == []


def _planet(seed: int, size: int = 240) -> np.ndarray:
    """A lit sphere on black space (one render style): a bright crescent on the lit limb over a
    faint surface texture of its own (``seed``), RGB uint8."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    yy, xx = (np.mgrid[0:size, 0:size] + 0.5) / size - 0.5
    r = np.hypot(yy, xx)
    disc = np.clip((0.46 - r) * size / 2, 0, 1)
    light = np.clip(1.2 - np.hypot(yy + 0.25, xx - 0.25) * 1.6, 0, 1)
    rim = np.exp(-(((r - 0.44) * size / 5) ** 2)) * (xx - yy > 0)
    tex = ndimage.gaussian_filter(np.kron(rng.normal(0, 1, (size // 6, size // 6)), np.ones((6, 6))), 1.5)
    grey = disc * (90 + 60 * light + 15 * tex / tex.std()) + 150 * rim * disc
    return np.clip(np.round(np.stack([grey, grey * 0.9, grey * 0.6])), 0, 255).astype(np.uint8)


def test_planets_of_one_render_style_are_not_near_duplicates(monkeypatch) -> None:
    """Two different planets rendered alike (the corpus's naev planets) hash 2 bits apart and
    their thumbnails' detail correlates at 0.90 - the bright limb - while their surfaces do not:
    the local detail check (LOCAL_VERIFY_MIN) drops the pair; a 96 px copy of one stays."""
    from PIL import Image

    import dataeval_gpu.detectors.hash_pairs as hp
    from dataeval_gpu.audit import DataAudit
    from dataeval_gpu.detectors.near_duplicates import LOCAL_VERIFY_MIN, VERIFY_MIN, NearDuplicates
    from dataeval_gpu.functional.hashing import detail_correlation, hamming_distance, near_hash
    from dataeval_gpu.functional.hashing.thumbs import local_detail_check

    a, b = _planet(1), _planet(5)
    small = np.asarray(Image.fromarray(np.moveaxis(a, 0, -1)).resize((96, 96), Image.LANCZOS))
    ts = [torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(np.ascontiguousarray(np.moveaxis(small, -1, 0)))]
    h, _ = near_hash(ts, "pchash_d4")
    assert hamming_distance(h[[0, 0]], h[[1, 2]]).tolist() == [2, 0]
    nd = NearDuplicates(embedding_threshold=None)
    th = nd.thumbnails(ts)[:, 0]
    detail = detail_correlation(th[[0, 0]], th[[1, 2]])
    local = local_detail_check(th[[0, 0]], th[[1, 2]])[0]
    assert LOCAL_VERIFY_MIN == 0.65 and VERIFY_MIN < detail[0] < 0.95 < detail[1]
    assert local[0] < 0.6 and local[1] > 0.99
    assert nd.evaluate(ts).hash == [[0, 2]]
    audit = DataAudit(device="cpu", embeddings=False)
    audit.update(ts)
    assert audit.compute().duplicates["near"] == [[0, 2]]
    monkeypatch.setattr(hp, "LOCAL_VERIFY_MIN", -1.0)  # every other rule lets the other planet in
    assert nd.evaluate(ts).hash == [[0, 1, 2]]


def test_small_images_verify_against_small_ones_of_their_square_size_only() -> None:
    """An image under 33 px a side (SMALL_SIDE): its pairs stay within the unverified radius (2);
    against another small image of one square size (8 px bands of the short side) they are
    verified at SMALL_VERIFY_MIN; against a larger image or another square size the thumbnails
    were made two ways (enlarged / downscaled) and the pair is kept unverified, as before."""
    from dataeval_gpu.detectors.hash_pairs import SMALL_SIDE, SMALL_VERIFY_MIN, hash_pairs, thumbs_comparable

    assert (SMALL_SIDE, SMALL_VERIFY_MIN) == (33, 0.95)
    same, small = thumbs_comparable(np.array([28, 28, 28, 20, 40, 8]), np.array([25, 24, 64, 28, 300, 16]))
    assert same.tolist() == [True, False, False, False, True, False]
    assert small.tolist() == [True, True, True, True, False, True]
    rng = np.random.default_rng(2)
    tex = rng.integers(0, 256, (32, 32)).astype(np.uint8)
    thumbs = np.stack([tex, rng.integers(0, 256, (32, 32)), rng.integers(0, 256, (32, 32)), tex, tex]).astype(np.uint8)
    side = np.array([28.0, 28.0, 64.0, 28.0, 28.0])
    # distances from 0: 2 (1: other detail, same size), 2 (2: other detail, 64 px), 4 (3), 2 (4)
    h = torch.tensor([0, 0b11, 0b11 << 10, 0b1111 << 20, 0b11 << 30], dtype=torch.int64)
    ok = torch.ones(5, dtype=torch.bool)
    got = hash_pairs(h, ok, [], 4, thumbs=thumbs[:, None], side=side)
    assert got.tolist() == [[0, 2], [0, 4]]
    # without the sides: every pair verified at VERIFY_MIN, at radius 4
    assert hash_pairs(h, ok, [], 4, thumbs=thumbs[:, None]).tolist() == [[0, 3], [0, 4]]
