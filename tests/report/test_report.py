"""Class-wise tables (hand-computed), plots (axes, titles, files), the HTML report, headless Chromium."""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dataeval_gpu.audit import AuditReport, scan
from dataeval_gpu.metrics import channelstats, imagestats
from dataeval_gpu.report import (
    channel_histograms,
    class_samples_grid,
    class_wise_table,
    cluster_by_class_table,
    duplicate_groups_table,
    duplicates_by_class_table,
    duplicates_grid,
    flagged_by_metric,
    flagged_images_table,
    flagged_metric_grid,
    group_channel_stats,
    image_getter,
    label_counts_plot,
    metric_counts_table,
    metric_histograms,
    outliers_grid,
    sample_indices,
    to_display,
    write_report,
)

matplotlib = pytest.importorskip("matplotlib")

EMBEDDED = ("data:image/png;base64,", "data:image/jpeg;base64,", "data:image/svg+xml;base64,")

# A small labelled set, detection style (hand-checked below):
#   0: cat, dog   1: cat   2: (none)   3: dog, dog   4: bird   5: (none)   6: cat   7: bird, cat
LABELS = {
    0: ["cat", "dog"],
    1: ["cat"],
    2: [],
    3: ["dog", "dog"],
    4: ["bird"],
    5: [],
    6: ["cat"],
    7: ["bird", "cat"],
}
ISSUES = {
    0: {"brightness": 0.9, "zero": 0.5},
    3: {"brightness": 0.1},
    5: {"entropy": 1.2},
    6: {"zero": 0.7},
}
DUPLICATES = {"exact": [[1, 6]], "near": [[3, 4, 7]]}
CLUSTERS = {"outliers": [2, 5], "potential_outliers": [7], "duplicates": [[1, 6]], "potential_duplicates": []}
CLASSES = ["bird", "cat", "dog"]


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    from dataeval_gpu.datasets import photo_collection

    imgs = photo_collection(8, seed=11, min_side=40, max_side=96)
    imgs[6] = imgs[1].copy()  # the exact duplicate of the table
    return imgs


@pytest.fixture(scope="module")
def report(images: list[np.ndarray]) -> AuditReport:
    stats = imagestats(images).dict()
    return AuditReport(
        index=np.arange(8),
        stats={k: np.asarray(v) for k, v in stats.items()},
        hashes={"xxhash": [f"{i:x}" for i in range(8)], "pchash": [f"{i:x}" for i in range(8)]},
        issues=ISSUES,
        duplicates=DUPLICATES,
        clusters=CLUSTERS,
        labels=LABELS,
        class_names=CLASSES,
        config={"dataset": "hand-made test set", "outlier_method": "modzscore"},
    )


@pytest.fixture(scope="module")
def written(report: AuditReport, images: list[np.ndarray], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    return write_report(report, out, images=images, max_grid=6, channel_stats=channelstats(images), seed=3)


# ----------------------------------------------------------------------------- tables
def test_class_wise_table_hand_computed() -> None:
    df = class_wise_table(ISSUES, LABELS)
    assert list(df.index) == ["bird", "cat", "dog", "(no objects)", "Total"]
    assert list(df.columns) == [
        "brightness",
        "entropy",
        "zero",
        "Total",
        "flagged images",
        "images",
        "% flagged",
    ]
    expected = pd.DataFrame(
        {
            #               bird cat dog none Total
            "brightness": [0, 1, 2, 0, 2],
            "entropy": [0, 0, 0, 1, 1],
            "zero": [0, 2, 1, 0, 2],
            "Total": [0, 3, 3, 1, 5],  # row sums; Total row: 5 flags on 4 images
            "flagged images": [0, 2, 2, 1, 4],
            "images": [2, 4, 2, 2, 8],
        },
        index=["bird", "cat", "dog", "(no objects)", "Total"],
    )
    pd.testing.assert_frame_equal(df.drop(columns="% flagged"), expected, check_dtype=False)
    assert df["% flagged"].tolist() == [0.0, 50.0, 100.0, 50.0, 50.0]


def test_class_wise_table_single_label_sums() -> None:
    """With one class per image the class rows add up to the Total row."""
    labels = [0, 1, 1, 2, 0, 1]
    issues = {1: {"mean": 0.1}, 2: {"mean": 0.2, "std": 0.3}, 5: {"std": 0.4}}
    df = class_wise_table(issues, labels, class_names=["a", "b", "c", "d"])
    assert list(df.index) == ["a", "b", "c", "d", "Total"]
    assert df.loc["b", "mean"] == 2 and df.loc["b", "std"] == 2 and df.loc["b", "Total"] == 4
    assert df.loc["d", "images"] == 0
    body = df.drop(index="Total")
    for col in ("mean", "std", "Total", "flagged images", "images"):
        assert body[col].sum() == df.loc["Total", col]


def test_class_wise_table_unlabelled_rows() -> None:
    df = class_wise_table({4: {"zero": 1.0}}, {0: "a", 1: "a"})
    assert df.loc["(unlabelled)", "zero"] == 1
    assert df.loc["Total", "images"] == 3


def test_flagged_by_metric_and_counts() -> None:
    assert flagged_by_metric(ISSUES) == {"brightness": [0, 3], "entropy": [5], "zero": [0, 6]}
    df = metric_counts_table(ISSUES, n_images=8)
    assert df["flagged images"].to_dict() == {"brightness": 2, "zero": 2, "entropy": 1}
    assert df.loc["entropy", "% of images"] == 12.5


def test_duplicates_by_class_hand_computed() -> None:
    df = duplicates_by_class_table(DUPLICATES, LABELS)
    assert df.loc["cat"].to_dict() == {
        "exact groups": 1, "exact images": 2, "exact mixed": 0, "near groups": 1, "near images": 1, "near mixed": 1,
    }  # fmt: skip
    assert df.loc["bird", "near images"] == 2  # images 4 and 7
    assert df.loc["dog", "exact groups"] == 0 and df.loc["dog", "near images"] == 1
    assert df.loc["Total"].to_dict() == {
        "exact groups": 1, "exact images": 2, "exact mixed": 0, "near groups": 1, "near images": 3, "near mixed": 1,
    }  # fmt: skip
    groups = duplicate_groups_table(DUPLICATES, LABELS)
    assert groups["indices"].tolist() == ["1, 6", "3, 4, 7"]
    assert groups["mixed labels"].tolist() == [False, True]
    assert groups.loc[1, "classes"] == "dog, bird, bird-cat"


def test_cluster_by_class_hand_computed() -> None:
    df = cluster_by_class_table(CLUSTERS, LABELS)
    assert df.loc["(no objects)", "outliers"] == 2
    assert df.loc["bird", "potential outliers"] == 1 and df.loc["cat", "potential outliers"] == 1
    assert df.loc["cat", "duplicate images"] == 2
    assert df.loc["Total"].drop("% outliers").to_dict() == {
        "outliers": 2, "potential outliers": 1, "duplicate images": 2, "potential duplicate images": 0, "images": 8,
    }  # fmt: skip
    assert df.loc["Total", "% outliers"] == 25.0
    assert df.loc["(no objects)", "% outliers"] == 100.0


def test_cluster_table_on_a_clustered_subset() -> None:
    """When the Clusterer saw a subset, ``images`` counts that subset (the keys of outlier_score)."""
    clusters = {"outliers": [2], "potential_outliers": [], "outlier_score": {0: 0.1, 1: 0.2, 2: 3.0, 4: 0.3}}
    df = cluster_by_class_table(clusters, LABELS)
    # clustered: 0 (cat, dog), 1 (cat), 2 (none), 4 (bird)
    assert df["images"].to_dict() == {"bird": 1, "cat": 2, "dog": 1, "(no objects)": 1, "Total": 4}
    assert df.loc["Total", "% outliers"] == 25.0
    same = cluster_by_class_table({"outliers": [2]}, LABELS, embedded=[0, 1, 2, 4])
    pd.testing.assert_frame_equal(df, same)


def test_duplicate_groups_summarise_classes() -> None:
    groups = duplicate_groups_table({"near": [[0, 1, 6, 2]]}, LABELS, kinds=("near",))
    assert groups.loc[0, "classes"] == "cat-dog, cat ×2, (no objects)"
    assert bool(groups.loc[0, "mixed labels"])


def test_flagged_images_table() -> None:
    df = flagged_images_table(ISSUES, LABELS, paths={0: "/x/a.png"})
    assert df.loc[0, "class"] == "cat-dog" and df.loc[5, "class"] == "(no objects)"
    assert df.loc[0, "flags"] == 2 and df.loc[0, "file"] == "/x/a.png"
    assert df.loc[0, "metrics"] == "brightness=0.9, zero=0.5"



def test_flagged_values_are_the_measured_ones(tmp_path: Path) -> None:
    """The Linter rounds its values to 2 decimals (DataEval 0.65); an image flagged for ``zero``
    with 1 zero pixel in 256 (0.00390625) read ``zero=0`` in the report's table. The report
    shows the measured value; ``issues`` itself keeps 0.65's rounded one."""
    rep = AuditReport(
        index=np.array([0, 1, 2], dtype=np.int64),
        stats={"zero": np.array([0.0, 1 / 256, 0.0]), "brightness": np.array([0.5, 0.5, 0.5])},
        issues={1: {"zero": 0.0, "blurriness": 7.25}},  # blurriness: no stats column, kept as given
        paths={0: "/d/a.png", 1: "/d/b.png", 2: "/d/c.png"},
    )
    assert rep.issue_values() == {1: {"zero": 0.00390625, "blurriness": 7.25}}
    assert rep.issues == {1: {"zero": 0.0, "blurriness": 7.25}}
    page = write_report(rep, tmp_path).read_text()
    table = page.split('id="table-flagged"', 1)[1].split("</table>", 1)[0]
    assert "zero=0.003906" in table and "blurriness=7.25" in table



@pytest.mark.parametrize(
    ("config", "rule"),
    [
        (
            {"near_radius": 2, "hash": "pchash", "d4": True, "near_crops": [0.9, 0.8]},
            "pchash D4 (flip/rotation-invariant) hashes within Hamming distance 2, also of the central 90 % and 80 %",
        ),
        ({"near_radius": 0, "hash": "pchash", "d4": False, "near_crops": []}, "identical pchash hashes"),
        ({"near_radius": 8, "hash": "dhash", "d4": False}, "dhash hashes within Hamming distance 8"),
        (
            {"near_radius": 4, "hash": "pchash", "d4": True, "near_crops": [0.9, 0.8], "quality": True},
            "pchash D4 (flip/rotation-invariant) hashes within Hamming distance 4, also of the central 90 % and "
            "80 %; each pair verified on the 32 × 32 grey thumbnails of the two images (one that cannot be, such as of "
            "images under 33 px, only within distance 2)",
        ),
    ],
)
def test_duplicates_note_says_what_was_compared(tmp_path: Path, config: dict, rule: str) -> None:
    """The exact duplicates are identical decoded pixels (a PNG and a BMP of one picture are a
    group; the page said "identical bytes"), the near ones follow the run's hash settings (it
    said "same perceptual hash" also at radius 2 with D4 and crops)."""
    rep = AuditReport(
        index=np.array([0, 1, 2], dtype=np.int64),
        stats={"brightness": np.array([0.2, 0.5, 0.5])},
        duplicates={"exact": [[1, 2]], "near": []},
        paths={0: "/d/a.png", 1: "/d/b.png", 2: "/d/b.bmp"},
        config=config,
    )
    page = write_report(rep, tmp_path).read_text()
    text = " ".join(page.split('id="duplicates"', 1)[1].split("<h3>", 1)[0].split())
    assert "identical decoded pixels" in text and "identical bytes" not in text
    assert f"near duplicates ({rule}, not already exact)" in text, text



def test_summary_cards_count_the_quality_issues(tmp_path: Path) -> None:
    """The quality issues are on by default, yet the summary's cards left them out (the page of
    20,000 Fashion-MNIST PNGs with 1,037 images flagged showed none at the top)."""
    rep = AuditReport(
        index=np.array([0, 1, 2], dtype=np.int64),
        stats={"brightness": np.array([0.2, 0.5, 0.5])},
        quality={
            "flags": {"dark": np.array([True, False, False]), "noisy": np.array([True, True, False])},
            "scores": {"dark": np.array([0.9, 0.1, 0.1]), "noisy": np.array([9.0, 9.0, 1.0])},
            "thresholds": {"dark": 0.78, "noisy": 8.5},
            "why": {0: ["dark: ...", "noisy: ..."], 1: ["noisy: ..."]},
        },
    )
    page = write_report(rep, tmp_path).read_text()
    assert '<div class="v" id="count-quality">2</div>' in page
    plain = AuditReport(index=rep.index, stats=rep.stats)
    assert 'id="count-quality"' not in write_report(plain, tmp_path / "plain").read_text()



def test_quality_issues_have_grids_and_a_class_table(tmp_path: Path, images: list[np.ndarray]) -> None:
    """The quality section listed its findings as text only: no picture of the dark or noisy
    images and no count by class, which the Linter's section has. Now: a table by class and a
    grid per issue (most flagged first), titled with the score."""
    scores = {"dark": np.linspace(0.1, 0.9, 8), "noisy": np.full(8, 1.0)}
    scores["noisy"][[2, 6]] = [9.5, 12.0]
    flags = {"dark": scores["dark"] > 0.78, "noisy": scores["noisy"] > 8.5}  # dark: 7; noisy: 2, 6
    rep = AuditReport(
        index=np.arange(8),
        stats={k: np.asarray(v) for k, v in imagestats(images).dict().items()},
        labels={i: i % 2 for i in range(8)},
        class_names=["cat", "dog"],
        quality={
            "flags": flags,
            "scores": scores,
            "thresholds": {"dark": 0.78, "noisy": 8.5},
            "why": {2: ["noisy: ..."], 6: ["noisy: ..."], 7: ["dark: ..."]},
        },
    )
    page = write_report(rep, tmp_path, images=images).read_text()
    section = page[page.index('id="quality"') :]
    html = re.search(r'<table class="df" id="table-quality-class-wise">(.*?)</table>', section).group(1)
    head = re.findall(r"<th[^>]*>([^<]*)</th>", html.split("</thead>")[0])[1:]
    rows = {
        r[0]: dict(zip(head, r[1:]))
        for r in (re.findall(r"<t[hd][^>]*>([^<]*)</t[hd]>", tr) for tr in re.findall(r"<tr.*?</tr>", html.split("</thead>")[1]))
    }
    assert rows["cat"]["noisy"] == "2" and rows["cat"]["dark"] == "0"
    assert rows["dog"]["dark"] == "1" and rows["dog"]["noisy"] == "0"
    assert section.index("<h3>noisy</h3>") < section.index("<h3>dark</h3>")  # most flagged first
    assert (tmp_path / "plots" / "quality_noisy.jpg").is_file() and (tmp_path / "plots" / "quality_dark.jpg").is_file()
    assert "2 image(s) flagged for noisy; sample ordered by score." in section


def test_five_digit_numbers_are_written_in_full(tmp_path: Path) -> None:
    """``.4g`` wrote 20000 px as ``2e+04`` and 96520 as ``9.652e+04`` (in the summary table, the
    printout, the flagged list and the grid titles); large and small values keep the notation."""
    from dataeval_gpu.audit.report import format_value
    from dataeval_gpu.report.page import format_number

    cases = {20000.0: "20000", 96520.0: "96520", 12345.6: "12346", 9999.5: "10000", 9999.4: "9999",
             -20000.0: "-20000", 1.5e5: "1.5e+05", 0.0036: "0.0036", 2.0: "2", 0.5: "0.5"}  # fmt: skip
    assert {v: format_number(v) for v in cases} == cases
    assert {v: format_value(v) for v in cases} == cases
    rep = AuditReport(
        index=np.array([0, 1, 2], dtype=np.int64),
        stats={"width": np.array([20000.0, 380.0, 380.0]), "height": np.array([10.0, 254.0, 254.0])},
        issues={0: {"width": 20000.0}},
        paths={0: "/d/wide.png", 1: "/d/a.png", 2: "/d/b.png"},
    )
    page = write_report(rep, tmp_path).read_text()
    summary = page.split('id="table-metric-summary"', 1)[1].split("</table>", 1)[0]
    assert ">20000<" in summary and "e+04" not in page
    assert "width=20000" in page.split('id="table-flagged"', 1)[1].split("</table>", 1)[0]



def test_duplicate_groups_table_names_files_inside_the_folder() -> None:
    """The groups table showed file names alone: every wallpaper pair read "2560x1600.jpg,
    screenshot.jpg". It shows the path inside the folder all the files are in."""
    paths = {0: "/w/Autumn/images/2560x1600.jpg", 1: "/w/Autumn/screenshot.jpg",
             2: "/w/Kite/images/2560x1600.jpg", 3: "/w/Kite/screenshot.jpg", 4: "/w/x.png"}  # fmt: skip
    df = duplicate_groups_table({"exact": [], "near": [[0, 1], [2, 3]]}, paths=paths)
    sep = os.sep
    assert df["files"].tolist() == [
        f"Autumn{sep}images{sep}2560x1600.jpg, Autumn{sep}screenshot.jpg",
        f"Kite{sep}images{sep}2560x1600.jpg, Kite{sep}screenshot.jpg",
    ]
    assert duplicate_groups_table({"exact": [[0]]}, paths={0: "/w/a.png"})["files"].tolist() == ["a.png"]


# ----------------------------------------------------------------------------- plots
def _texts(fig: object) -> list[str]:
    """The figure-level texts (suptitle included), line breaks of wrapped titles undone."""
    out = [t.get_text() for t in fig.texts]  # type: ignore[attr-defined]
    if fig._suptitle is not None:  # type: ignore[attr-defined]
        out.append(fig._suptitle.get_text())  # type: ignore[attr-defined]
    return [" ".join(t.split()) for t in out]


def test_metric_histograms_axes(report: AuditReport) -> None:
    from matplotlib.figure import Figure

    fig = metric_histograms(report.stats, log=True)  # drawn (and saved) in the report fixture
    assert isinstance(fig, Figure)
    titled = {ax.get_title(): ax for ax in fig.axes if ax.get_title()}
    assert {"mean", "brightness", "blurriness", "entropy"} <= set(titled)
    ax = titled["brightness"]
    assert ax.get_xlabel().startswith("brightness (") and ax.get_ylabel() == "images (log scale)"
    assert ax.get_yscale() == "log"
    assert any("log y axis" in t for t in _texts(fig))
    lin = metric_histograms({"a": np.arange(10.0), "size": np.full(10, 784)}, metrics=["a", "size"])
    titles = [ax.get_title() for ax in lin.axes]
    assert "constant metrics" in titles  # size is constant: listed, not drawn as a histogram
    assert lin.axes[0].get_ylabel() == "images"


def test_channel_histograms_grouped(images: list[np.ndarray]) -> None:
    mixed = images[:3] + [im[:1] for im in images[3:6]]  # three RGB (or grey) and three 1-channel
    ch = channelstats(mixed)
    groups = group_channel_stats(ch)
    assert set(groups) == set(ch.ch_idx_map)
    for c, g in groups.items():
        assert g["mean"].shape == (c, len(ch.ch_idx_map[c]))
    fig = channel_histograms(ch)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert any(t.startswith("mean (1-channel images") for t in titles)
    assert all(ax.get_ylabel() == "density" for ax in fig.axes if ax.get_title())
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    assert legends and legends[0].get_texts()[0].get_text() == "channel 0"


def test_channel_rows_layout_equals_channelstats(images: list[np.ndarray]) -> None:
    """AuditReport.channel_stats (rows) groups to the same arrays as channelstats."""
    mixed = images[:3] + [im[:1] for im in images[3:5]]
    rep = scan(mixed, channels=True, hashes=False)
    a = group_channel_stats(rep.channel_stats)
    b = group_channel_stats(channelstats(mixed))
    assert set(a) == set(b)
    for c in a:
        np.testing.assert_allclose(a[c]["mean"], b[c]["mean"], rtol=1e-6)
        np.testing.assert_allclose(a[c]["entropy"], b[c]["entropy"], rtol=1e-6)


def test_to_display_true_intensity() -> None:
    dark = np.full((1, 4, 4), 10, np.uint8)
    disp, grey = to_display(dark)
    assert grey and disp.shape == (4, 4) and np.allclose(disp, 10 / 255)
    rgb, grey = to_display(np.full((3, 2, 5), 255, np.uint8))
    assert not grey and rgb.shape == (2, 5, 3) and np.allclose(rgb, 1.0)
    twelve_bit, _ = to_display(np.full((1, 2, 2), 4095, np.uint16))
    assert np.allclose(twelve_bit, 1.0)
    half, _ = to_display(np.full((2, 3, 3), 0.5, np.float32))  # 2 channels: the first shown
    assert np.allclose(half, 0.5)
    rgba, _ = to_display(np.zeros((4, 3, 3), np.uint8))
    assert rgba.shape == (3, 3, 3)
    nan, _ = to_display(np.full((1, 2, 2), np.nan))
    assert np.all(nan == 0)


def test_sample_indices_seeded() -> None:
    assert sample_indices([5, 6, 7], 10) == [5, 6, 7]
    a = sample_indices(list(range(100)), 12, seed=4)
    assert a == sample_indices(list(range(100)), 12, seed=4) and len(set(a)) == 12 and a == sorted(a)
    assert a != sample_indices(list(range(100)), 12, seed=5)


def test_image_grids(tmp_path: Path, images: list[np.ndarray]) -> None:
    get = image_getter(images)
    fig = flagged_metric_grid(ISSUES, "zero", get, labels=LABELS, n=4, seed=0, path=tmp_path / "f.png")
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["#0 · cat-dog\nzero = 0.5", "#6 · cat\nzero = 0.7"]  # ordered by value
    assert "Flagged for zero: 2 of 2 images" in _texts(fig)
    fig = duplicates_grid(DUPLICATES["near"], get, labels=LABELS, kind="near", path=tmp_path / "d.png")
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles[0] == "group 1 (3 images)\n#3 · dog" and titles[2] == "#7 · bird-cat"
    fig = outliers_grid([2, 5, 7], get, labels=LABELS, scores={2: 3.5}, n=2, seed=1, path=tmp_path / "o.png")
    assert len([ax for ax in fig.axes if ax.get_title()]) == 2
    assert any("random sample, seed 1" in t for t in _texts(fig))
    fig = class_samples_grid({"cat": [0, 1], "dog": [3]}, get, seed=0, path=tmp_path / "s.png")
    assert [ax.get_title().split("\n")[0] for ax in fig.axes if ax.get_title()] == ["cat", "dog"]
    # a grid without an image source still draws (placeholders), a failing loader too
    image_getter(None)
    broken = flagged_metric_grid(ISSUES, "zero", lambda i: 1 / 0, path=tmp_path / "b.png")
    assert (tmp_path / "b.png").exists() and broken.axes
    for name in ("f", "d", "o", "s"):
        from PIL import Image

        with Image.open(tmp_path / f"{name}.png") as im:
            assert im.size[0] >= 400 and im.size[1] >= 200


def test_label_counts_plot(tmp_path: Path) -> None:
    from dataeval_gpu.labels import label_stats

    fig = label_counts_plot(label_stats(LABELS), path=tmp_path / "l.png")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["bird", "cat", "dog"]
    assert ax.get_xlabel() == "count" and ax.get_ylabel() == "class"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["objects", "images containing the class"]


# ----------------------------------------------------------------------------- HTML
def test_report_files(written: Path) -> None:
    out = written.parent
    assert written.name == "report.html"
    files = {p.stem: p.suffix for p in (out / "plots").iterdir()}
    plots = set(files)
    assert {"labels", "class_samples", "histograms", "histograms_log", "channel_histograms"} <= plots
    # charts the report draws itself are SVG, its image grids JPEG, the matplotlib ones PNG
    assert files["histograms"] == files["histograms_log"] == ".svg"
    assert files["class_samples"] == files["flagged_zero"] == files["dup_near_0"] == ".jpg"
    assert files["labels"] == files["channel_histograms"] == ".png"
    assert {
        "flagged_brightness",
        "flagged_zero",
        "flagged_entropy",
        "dup_exact_0",  # one strip per duplicate group: exact [1, 6], near [3, 4, 7]
        "dup_near_0",
    } <= plots
    assert {"cluster_outliers", "cluster_potential_outliers", "cluster_duplicates"} <= plots


def test_report_self_contained(written: Path) -> None:
    from PIL import Image

    page = written.read_text()
    # no external resource: every src / href is an embedded image or an in-page anchor
    for attr in re.findall(r'(?:src|href)="([^"]*)"', page):
        assert attr.startswith(EMBEDDED + ("#",)), attr[:60]
    assert "<script" not in page and "@import" not in page and "url(" not in page
    embedded = re.findall(r'src="data:image/([a-z+]+);base64,([^"]+)"', page)
    assert len(embedded) == len(list((written.parent / "plots").iterdir()))
    for kind, b64 in embedded:  # every embedded image decodes
        data = base64.b64decode(b64)
        if kind == "svg+xml":
            root = ET.fromstring(data)
            assert root.tag == "{http://www.w3.org/2000/svg}svg"
            assert not [e for e in root.iter() if "href" in "".join(e.attrib)]  # no link out of the SVG
        else:
            with Image.open(io.BytesIO(data)) as im:
                im.verify()
                assert im.format == {"png": "PNG", "jpeg": "JPEG"}[kind]


def test_report_content(written: Path) -> None:
    page = written.read_text()
    assert '<div class="v" id="count-images">8</div>' in page
    assert '<div class="v" id="count-flagged">4</div>' in page
    assert '<div class="v" id="count-exact">1 (2 images)</div>' in page
    assert '<div class="v" id="count-outliers">2</div>' in page
    assert '<div class="v" id="count-classes">3</div>' in page
    for section in ("Summary", "Labels", "Statistics", "Linter", "Duplicates", "Clusterer", "Settings"):
        assert f"<h2>{section}</h2>" in page
    rows = _html_table(page, "table-class-wise")
    assert rows[0][:5] == ["", "brightness", "entropy", "zero", "Total"]
    body = {r[0]: r[1:] for r in rows[1:]}
    assert body["cat"][:5] == ["1", "0", "2", "3", "2"]
    assert body["(no objects)"][:4] == ["0", "1", "0", "1"]
    assert body["Total"][:6] == ["2", "1", "2", "5", "4", "8"]


def _html_table(page: str, table_id: str) -> list[list[str]]:
    """The cell texts of one table of the page, row by row (the header corner cell included)."""
    m = re.search(rf'<table[^>]*id="{table_id}".*?</table>', page, flags=re.S)
    assert m, table_id
    rows = []
    for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", m.group(0), flags=re.S):
        rows.append(
            [
                re.sub(r"<[^>]+>", "", c).strip()
                for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", tr, flags=re.S)
            ]
        )
    return rows


def test_report_from_paths_without_labels(tmp_path: Path, images: list[np.ndarray]) -> None:
    """No labels, images read lazily from report.paths, no duplicates searched."""
    from PIL import Image

    files = []
    for i, img in enumerate(images[:5]):
        p = tmp_path / f"img{i}.png"
        Image.fromarray(np.moveaxis(img, 0, -1) if img.shape[0] == 3 else img[0]).save(p)
        files.append(str(p))
    rep = scan(images[:5], hashes=False)
    rep.paths = dict(enumerate(files))
    rep.issues = {1: {"brightness": 0.5}}
    path = write_report(rep, tmp_path / "out", max_grid=4)
    page = path.read_text()
    assert '<div class="v" id="count-exact">not searched</div>' in page
    assert "<h2>Labels</h2>" not in page and (tmp_path / "out" / "plots" / "flagged_brightness.jpg").exists()
    assert "img1.png" in page  # the flagged-images table names the file


CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


@pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (scripts/fetch_chromium.sh; `make test` runs it)"
)
def test_report_in_headless_chromium(written: Path, tmp_path: Path) -> None:
    from PIL import Image

    shot = tmp_path / "shot.png"
    cmd = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
        "--window-size=1280,2400", f"--screenshot={shot}", "--dump-dom", written.as_uri(),
    ]  # fmt: skip
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    console = [ln for ln in run.stderr.splitlines() if "CONSOLE" in ln or "Failed to load resource" in ln]
    assert not console, console
    dom = run.stdout
    text = re.sub(r"<[^>]+>", " ", re.sub(r'src="data:[^"]*"', "", dom))
    text = re.sub(r"\s+", " ", text)
    assert "8 images" in text
    assert re.search(r"\b4 flagged by the Linter", text)
    assert re.search(r"\b2 cluster outliers", text)
    assert re.search(r"1 \(2 images\) exact duplicate groups", text)
    for name in CLASSES:
        assert re.search(rf"\b{name}\b", text)
    assert "Flagged images by class and metric" in text
    for heading in ("Summary", "Labels", "Statistics", "Linter", "Duplicates", "Clusterer", "Settings"):
        assert f">{heading}</h2>" in dom
    assert len(re.findall(r"data:image/[a-z+]+;base64,", dom)) == len(
        list((written.parent / "plots").iterdir())
    )
    with Image.open(shot) as im:
        assert im.size == (1280, 2400)
        arr = np.asarray(im.convert("L"), dtype=np.float64)
    assert arr[:120].std() > 10  # the header and summary cards were painted, not a blank page
    assert len(np.unique(arr)) > 50


def test_report_with_only_failures(tmp_path: Path) -> None:
    rep = AuditReport(
        index=np.zeros(0, dtype=np.int64),
        stats={},
        failed={0: "could not be decoded"},
        paths={0: "/data/a.jpg"},
    )
    page = write_report(rep, tmp_path).read_text()
    assert '<div class="v" id="count-failed">1</div>' in page
    assert "<h2>Failed</h2>" in page and "could not be decoded" in page and ">a.jpg</td>" in page
    assert "/data/a.jpg" not in page  # the file by its path in its folder (here its name), as elsewhere
    assert not list((tmp_path / "plots").iterdir())


# ----------------------------------------------------------------------------- thumbnails (issue 11, bug c)
def _pattern(h: int, w: int) -> np.ndarray:
    """A smooth (JPEG-friendly) picture with no symmetry: gradients and a bright top-left block."""
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([255 * x / w, 255 * y / h, 128 + 60 * np.sin(x / 37.0)], axis=-1)
    img[: h // 4, : w // 3] = (250, 250, 40)
    return img.astype(np.uint8)


def _exif_jpeg(path: Path, arr: np.ndarray, orientation: int, mode: str = "RGB") -> None:
    from PIL import Image

    im = Image.fromarray(arr)
    im = im.convert(mode) if mode != "RGB" else im
    exif = Image.Exif()
    exif[0x0112] = orientation
    im.save(path, quality=95, exif=exif.tobytes())


def _resized(ref: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    from PIL import Image

    planes = [
        np.asarray(Image.fromarray(p).resize((shape[2], shape[1]), Image.Resampling.BILINEAR), np.float64)
        for p in ref
    ]
    return np.stack(planes)


@pytest.mark.parametrize("orientation", [1, 2, 3, 4, 5, 6, 7, 8])
def test_thumbnails_follow_the_measured_orientation(tmp_path: Path, orientation: int) -> None:
    """A rotated JPEG is shown as it was measured (EXIF transposed), not as stored.

    The reference is the measurement's own decoder (dataeval_gpu.io.decode_file); the grids'
    pixels come from the report's image source reading ``report.paths``.
    """
    from dataeval_gpu.io import decode_file

    path = tmp_path / f"rot{orientation}.jpg"
    _exif_jpeg(path, _pattern(600, 900), orientation)  # stored 900 wide, 600 high
    ref = decode_file(path).numpy()  # (3, H, W) as measured
    rep = AuditReport(index=np.arange(1), stats={}, paths={0: str(path)})
    thumb = image_getter(None, rep)(0)
    ref_aspect = ref.shape[2] / ref.shape[1]
    assert abs(thumb.shape[2] / thumb.shape[1] - ref_aspect) < 0.02, (thumb.shape, ref.shape)
    diff = np.abs(thumb.astype(np.float64) - _resized(ref, thumb.shape))
    assert diff.mean() < 4.0, diff.mean()  # the same picture, the same way round
    turned = np.abs(thumb.astype(np.float64) - _resized(np.rot90(ref, 2, axes=(1, 2)).copy(), thumb.shape))
    assert turned.mean() > 30  # the check can tell a picture from its half turn
    assert thumb.shape[0] == 3 and max(thumb.shape[1:]) == 256  # a thumbnail, not the full image


def test_thumbnails_keep_the_measured_channels(tmp_path: Path) -> None:
    """Grey JPEGs stay one channel (as measured); CMYK JPEGs and PNGs go through the measurement's decoder."""
    from PIL import Image

    from dataeval_gpu.io import decode_file
    from dataeval_gpu.report.plots import load_thumbnail

    grey = tmp_path / "grey.jpg"
    _exif_jpeg(grey, _pattern(400, 700), 6, mode="L")
    cmyk = tmp_path / "cmyk.jpg"
    Image.fromarray(_pattern(300, 500)).convert("CMYK").save(cmyk, quality=95)
    png = tmp_path / "big.png"
    Image.fromarray(_pattern(300, 800)).save(png)
    for path in (grey, cmyk, png):
        ref = decode_file(path).numpy()
        thumb = load_thumbnail(path)
        assert thumb.shape[0] == ref.shape[0] and thumb.dtype == ref.dtype, path.name
        assert abs(thumb.shape[2] / thumb.shape[1] - ref.shape[2] / ref.shape[1]) < 0.02, path.name
        assert np.abs(thumb.astype(np.float64) - _resized(ref, thumb.shape)).mean() < 4.0, path.name


def test_each_image_is_fetched_once(report: AuditReport, images: list[np.ndarray], tmp_path: Path) -> None:
    """Images shown in several grids (0: two metrics; 1 and 6: exact and cluster duplicates) are fetched once."""
    calls: dict[int, int] = {}

    def get(i: int) -> np.ndarray:
        calls[i] = calls.get(i, 0) + 1
        return images[i]

    write_report(report, tmp_path, images=get, max_grid=6, seed=3)
    assert {0, 1, 6} <= set(calls)
    assert max(calls.values()) == 1, calls


# ----------------------------------------------------------------------------- the report's own renderers
def test_pillow_grid_places_the_images(tmp_path: Path) -> None:
    from PIL import Image

    from dataeval_gpu.report.grids import duplicates_spec
    from dataeval_gpu.report.pilgrid import render_grid

    red = np.zeros((3, 50, 80), np.uint8)
    red[0] = 255
    blue = np.zeros((3, 120, 60), np.uint8)
    blue[2] = 200
    imgs = {3: red, 9: blue}
    spec = duplicates_spec([[9, 3]], labels={3: 0, 9: 1}, class_names=["cat", "dog"])
    assert spec.rows == [[(3, "group 1 (2 images)\n#3 · cat"), (9, "#9 · dog")]]
    out = render_grid(spec, lambda i: imgs[i] if i in imgs else 1 / 0, tmp_path / "g.png")
    with Image.open(out) as im:
        arr = np.asarray(im.convert("RGB")).astype(int)
    cw, ch = 230, 280  # 2.3 x 2.8 inch cells at 100 px per inch
    x_off = (arr.shape[1] - 2 * cw) // 2
    top = 55 + 52  # figure title band, cell title
    box_h = ch - 52 - 6
    centre = lambda c: arr[top + box_h // 2, x_off + c * cw + cw // 2]  # noqa: E731
    assert centre(0).tolist() == [255, 0, 0]  # image 3 (the group is sorted) in the first cell
    assert centre(1).tolist() == [0, 0, 200]
    assert arr.shape[0] == 55 + ch  # one row
    # an unreadable image draws a note instead of stopping the grid
    spec.rows[0].append((99, "#99"))
    render_grid(spec, lambda i: imgs[i] if i in imgs else 1 / 0, tmp_path / "g.jpg")
    with Image.open(tmp_path / "g.jpg") as im:
        assert im.format == "JPEG"


def test_transparent_pixels_show_a_checkerboard(tmp_path: Path) -> None:
    """A black icon on a transparent background (RGBA 0,0,0,0 around a 0,0,0,255 glyph: 935 of
    1,207 /usr/share icons) was drawn as a black square in every grid (the quality section's
    "dark" grid: twelve black squares). Transparent pixels now show a light checkerboard; opaque
    ones their colour; a half-transparent grey + alpha image is the mix."""
    from PIL import Image

    from dataeval_gpu.report.grids import duplicates_spec
    from dataeval_gpu.report.images import CHECKER, to_display, to_display_over_checker
    from dataeval_gpu.report.pilgrid import render_grid

    icon = np.zeros((4, 64, 64), np.uint8)
    icon[3, 16:48, 16:48] = 255  # an opaque black square in a transparent frame
    disp, grey = to_display_over_checker(icon)
    dark, light, side = CHECKER
    assert not grey and disp.shape == (64, 64, 3)
    assert np.all(disp[16:48, 16:48] == 0.0)
    assert np.allclose(disp[0, 0], light) and np.allclose(disp[0, side], dark)  # the checkerboard
    half = np.stack([np.full((8, 8), 200, np.uint8), np.full((8, 8), 128, np.uint8)])
    mixed, grey = to_display_over_checker(half)
    assert grey and np.allclose(mixed[0, 0], 200 / 255 * 128 / 255 + light * (1 - 128 / 255))
    rgb = np.full((3, 5, 7), 90, np.uint8)  # no alpha: as to_display
    np.testing.assert_array_equal(to_display_over_checker(rgb)[0], to_display(rgb)[0])
    out = render_grid(duplicates_spec([[0, 1]]), lambda i: icon, tmp_path / "g.png")
    with Image.open(out) as im:
        arr = np.asarray(im.convert("L")).astype(int)
    assert (arr > 150).sum() > 4 * (arr < 30).sum() > 0  # mostly checkerboard, some black glyph


def test_nice_ticks_hand_checked() -> None:
    from dataeval_gpu.report.svgcharts import nice_ticks

    assert nice_ticks(0, 10) == [0, 2, 4, 6, 8, 10]
    np.testing.assert_allclose(nice_ticks(0.13, 0.97), [0.2, 0.4, 0.6, 0.8])
    assert nice_ticks(-3, 3, 6) == [-3, -2, -1, 0, 1, 2, 3]
    assert nice_ticks(0, 1000, 4) == [0, 250, 500, 750, 1000]


@pytest.mark.parametrize("log", [False, True])
def test_svg_histograms_bars_match_numpy(log: bool) -> None:
    from dataeval_gpu.report.svgcharts import metric_histograms_svg

    rng = np.random.default_rng(0)
    stats = {"brightness": rng.random(500), "entropy": rng.normal(3, 1, 500), "depth": np.full(500, 8)}
    stats["entropy"][:3] = np.nan
    root = ET.fromstring(metric_histograms_svg(stats, log=log))
    ns = "{http://www.w3.org/2000/svg}"
    texts = [t.text for t in root.iter(ns + "text")]
    assert "brightness" in texts and "entropy" in texts and "constant metrics" in texts
    assert "brightness (mean of scaled pixels, 0–1)" in texts and "depth = 8" in texts
    assert "n=497, 3 not finite" in texts
    assert texts.count("images (log scale)" if log else "images") == 2
    bars = [r for r in root.iter(ns + "rect") if r.get("fill") == "#3b6ea8"]
    counts = [np.histogram(stats[m][np.isfinite(stats[m])], bins=20)[0] for m in ("brightness", "entropy")]
    nonzero = np.concatenate([c[c > 0] for c in counts])
    assert len(bars) == len(nonzero)
    heights = np.array([float(r.get("height")) for r in bars])
    if log:  # height grows with log(count / 0.7)
        np.testing.assert_allclose(heights[: len(counts[0][counts[0] > 0])] / np.log10(counts[0][counts[0] > 0] / 0.7),
                                   heights[0] / np.log10(counts[0][counts[0] > 0][0] / 0.7), rtol=0.02)  # fmt: skip
    else:  # height proportional to the count within a panel
        first = counts[0][counts[0] > 0]
        np.testing.assert_allclose(heights[: len(first)] / first, heights[0] / first[0], rtol=0.02)


@pytest.mark.parametrize("log", [False, True])
def test_svg_panel_titles_sit_above_their_panels(log: bool) -> None:
    """Each metric's title is drawn just above its own panel's frame, centred on it.  With a
    linear axis the title's y was taken from the largest bar's count (a variable shadowed the
    panel's top margin): "std" landed inside its panel, "var" on the panel below."""
    from dataeval_gpu.report.svgcharts import metric_histograms_svg

    rng = np.random.default_rng(0)
    sizes = {"mean": 40, "std": 400, "var": 1500, "skew": 7, "entropy": 900}  # very different bar heights
    stats = {m: rng.random(n) for m, n in sizes.items()}
    root = ET.fromstring(metric_histograms_svg(stats, log=log))
    ns = "{http://www.w3.org/2000/svg}"
    frames = [r for r in root.iter(ns + "rect") if r.get("fill") == "none" and r.get("stroke") == "black"]
    titles = [t for t in root.iter(ns + "text") if t.text in sizes]
    assert len(frames) == len(titles) == len(sizes)
    for t in titles:
        tx, ty = float(t.get("x")), float(t.get("y"))
        below = [f for f in frames if float(f.get("y")) >= ty and float(f.get("x")) < tx < float(f.get("x")) + float(f.get("width"))]
        assert below, t.text
        frame = min(below, key=lambda f: float(f.get("y")))  # the frame right under the title
        assert 0 < float(frame.get("y")) - ty <= 20, (t.text, ty, frame.get("y"))
        assert abs(float(frame.get("x")) + float(frame.get("width")) / 2 - tx) < 1


@pytest.mark.parametrize("log", [False, True])
def test_svg_constant_metrics_fit_on_the_page(log: bool) -> None:
    """20,000 Fashion-MNIST images have 14 constant metrics (28 x 28 grey, ...): the last lines of
    the constant-metrics list were drawn below the SVG's height (``chroma_bg = 0`` cut off)."""
    from dataeval_gpu.report.svgcharts import metric_histograms_svg

    rng = np.random.default_rng(0)
    stats = {m: rng.random(50) for m in ("brightness", "entropy", "mean", "std", "var", "skew", "kurtosis")}
    constant = ["width", "height", "size", "aspect_ratio", "channels", "depth", "missing", "colourfulness",
                "channel_spread", "grey_p001", "grey_p01", "blockiness", "chroma_rg", "chroma_bg"]  # fmt: skip
    stats.update({m: np.full(50, 3.0) for m in constant})
    root = ET.fromstring(metric_histograms_svg(stats, log=log))
    ns = "{http://www.w3.org/2000/svg}"
    height = float(root.get("height"))
    assert root.get("viewBox") == f"0 0 {root.get('width')} {root.get('height')}"
    lines = {t.text: float(t.get("y")) for t in root.iter(ns + "text")}
    assert all(f"{m} = 3" in lines for m in constant)
    assert max(lines.values()) + 4 <= height, (max(lines.values()), height)  # a 13 px line's descent


def test_report_without_labels_draws_nothing_with_matplotlib(
    report: AuditReport, images: list[np.ndarray], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Grids (Pillow) and metric histograms (SVG) are drawn by the report itself; matplotlib only
    draws the label bars and the per-channel histograms, and importing the package does not load it."""
    from matplotlib.figure import Figure

    saved: list[str] = []
    original = Figure.savefig

    def counting(self: Figure, fname: object, *args: object, **kwargs: object) -> None:
        saved.append(Path(str(fname)).stem)
        original(self, fname, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", counting)
    unlabelled = AuditReport(
        index=report.index, stats=report.stats, hashes=report.hashes, issues=ISSUES, duplicates=DUPLICATES,
        clusters=CLUSTERS, config=report.config,
    )  # fmt: skip
    page = write_report(unlabelled, tmp_path / "a", images=images).read_text()
    assert saved == [] and "could not be drawn" not in page
    write_report(report, tmp_path / "b", images=images, channel_stats=channelstats(images))
    assert sorted(saved) == ["channel_histograms", "labels"]
    code = "import sys, dataeval_gpu.report; print('matplotlib' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and run.stdout.strip() == "False", run.stderr[-2000:]


def test_scan_thumbnails_show_the_measured_picture_and_replace_decoding(tmp_path: Path) -> None:
    """The file scan's thumbnails (made in its workers from the measured pixels) are the same
    picture as the measurement's decoder gives, the same way round and with its channels; the
    report uses them instead of decoding those files again; small images get none."""
    from dataeval_gpu.audit.files import scan_files
    from dataeval_gpu.io import decode_file
    from dataeval_gpu.report.images import THUMB_FROM_PIXELS, scan_thumbnail

    big = tmp_path / "big.jpg"
    _exif_jpeg(big, _pattern(900, 1300), 6)  # 1.17 MP, stored turned: shown 900 wide
    grey = tmp_path / "grey.jpg"
    _exif_jpeg(grey, _pattern(1100, 1000), 1, mode="L")
    small = tmp_path / "small.jpg"
    _exif_jpeg(small, _pattern(300, 400), 1)
    files = [str(big), str(grey), str(small)]
    assert 900 * 1300 >= THUMB_FROM_PIXELS > 300 * 400
    rep = scan_files(files, batch_size=2, workers=1, hashes=False)
    assert sorted(rep.thumbnails) == [0, 1]
    for i in (0, 1):
        ref = decode_file(files[i]).numpy()
        thumb = rep.thumbnails[i]
        assert thumb.dtype == np.uint8 and thumb.shape[0] == ref.shape[0] and max(thumb.shape[1:]) == 256
        assert abs(thumb.shape[2] / thumb.shape[1] - ref.shape[2] / ref.shape[1]) < 0.02
        assert np.abs(thumb.astype(np.float64) - _resized(ref, thumb.shape)).mean() < 4.0
        np.testing.assert_array_equal(thumb, scan_thumbnail(decode_file(files[i])))
    assert rep.thumbnails[0].shape[2] < rep.thumbnails[0].shape[1]  # turned as measured: taller than wide
    # the report takes them: with the big files gone, their pictures are still shown
    for f in files[:2]:
        Path(f).unlink()
    get = image_getter(None, rep)
    np.testing.assert_array_equal(get(0), rep.thumbnails[0])
    assert get(2).shape == (3, 192, 256)  # decoded from its file
    # the scan's results do not depend on the thumbnails
    Path(files[0]).parent.mkdir(exist_ok=True)
    _exif_jpeg(big, _pattern(900, 1300), 6)
    _exif_jpeg(grey, _pattern(1100, 1000), 1, mode="L")
    again = scan_files(files, batch_size=2, workers=1, hashes=False, thumbnails=False)
    assert again.thumbnails == {}
    pd.testing.assert_frame_equal(again.to_pandas(), rep.to_pandas(), check_exact=True)


@pytest.mark.parametrize(("mode", "size"), [("RGB", (700, 300)), ("RGB", (200, 120)), ("L", (333, 901)), ("L", (90, 60))])
def test_thumbnail_of_a_pillow_image_is_shrink_uint8_of_its_array(mode: str, size: tuple[int, int]) -> None:
    """``load_thumbnail`` resizes the reduced JPEG as a Pillow image: the same pixels as
    ``shrink_uint8`` of its ``(C, H, W)`` array (the former path, with its planar copies)."""
    from PIL import Image

    from dataeval_gpu.report.images import _shrink_pil, shrink_uint8

    rng = np.random.default_rng(size[0])
    shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
    im = Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode)
    arr = np.asarray(im)
    chw = arr[None] if arr.ndim == 2 else np.ascontiguousarray(arr.transpose(2, 0, 1))
    got, want = _shrink_pil(im, 256), shrink_uint8(chw, 256)
    assert got.dtype == np.uint8 and np.array_equal(got, want)
    # a view of the (H, W, C) pixels, so that the grid's way back to (H, W, C) copies nothing
    assert got[0].flags.c_contiguous if mode == "L" else got.transpose(1, 2, 0).flags.c_contiguous
    assert max(got.shape[1:]) == min(256, max(size))


def test_class_names_without_a_glyph_do_not_warn(tmp_path: Path) -> None:
    """A class folder named "photos 写真" printed matplotlib's "Glyph 20889 ... missing from font(s)
    DejaVu Sans" warning once per character, with a source line, in the middle of a scan's output."""
    import warnings

    from dataeval_gpu.labels import label_stats

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = label_counts_plot(label_stats(["photos 写真", "cats", "cats"]), path=tmp_path / "labels.png")
    assert (tmp_path / "labels.png").is_file() and fig is not None


def test_the_page_counts_flags_out_of_the_measured_images(tmp_path: Path) -> None:
    """With failed inputs the page said "flagged k of <all inputs> images" and its "% of images"
    divided by every input, the failed ones (never checked) included: 1 of 4 flagged read 25 %
    when 1 of the 2 measured images (50 %) was.  They count out of the measured images now."""
    from dataeval_gpu.report import write_report

    report = AuditReport(
        index=np.arange(2),
        stats={"brightness": np.array([0.5, 0.9])},
        issues={1: {"brightness": 0.9}},
        quality={"flags": {"dark": np.array([True, False])}, "thresholds": {"dark": 0.5},
                 "scores": {"dark": np.array([0.7, 0.1])}, "why": {0: ["dark: score 0.7 > 0.5"]}},
        failed={2: "truncated", 3: "not an image"},
        config={"outlier_method": "modzscore"},
    )
    html = write_report(report, tmp_path).read_text()
    assert re.search(r'flagged <b id="linter-flagged">1</b> of 2 measured images', html)
    assert re.search(r'flagged <b id="quality-flagged">1</b> of 2 measured images', html)
    table = html.split('id="table-metric-counts"', 1)[1].split("</table>", 1)[0]
    assert re.search(r">brightness</t[hd]><td[^>]*>1</td><td[^>]*>50(\.0)?</td>", table), table
