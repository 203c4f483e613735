"""The HTML report at scale: it reads its labels once for all its tables, makes the shown paths
relative only for the images it shows, and plain class labels take the fast path with the same
classes as the general one."""

from __future__ import annotations

import numpy as np
import pytest

from dataeval_gpu import labels as labels_mod
from dataeval_gpu.audit import AuditReport
from dataeval_gpu.report import tables, write_report


def _report(n: int = 40) -> AuditReport:
    rng = np.random.default_rng(0)
    stats = {
        "width": np.full(n, 16, dtype=np.int64),
        "height": np.full(n, 16, dtype=np.int64),
        "brightness": rng.random(n),
        "entropy": rng.random(n) * 8,
    }
    return AuditReport(
        index=np.arange(n),
        stats=stats,
        issues={3: {"brightness": 0.99}, 7: {"entropy": 0.1}, 11: {"brightness": 0.01, "entropy": 7.9}},
        duplicates={"exact": [[1, 2]], "near": [[4, 5, 6]]},
        clusters={"outliers": [8], "potential_outliers": [], "duplicates": [[1, 2]], "potential_duplicates": []},
        labels={i: i % 3 for i in range(n)},
        class_names=["a", "b", "c"],
        paths={i: f"/data/set/c{i % 3}/{i:04d}.png" for i in range(n)},
        config={"outlier_method": "modzscore"},
    )


def test_report_reads_labels_once(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Five tables (class-wise, flagged, duplicates by class, groups, clusters by class) each
    normalised every label before: 5 passes over a million labels."""
    calls: list[int] = []
    real = tables.normalize_labels

    def counting(labels, class_names=None):  # noqa: ANN001, ANN202
        calls.append(len(labels))
        return real(labels, class_names)

    monkeypatch.setattr(tables, "normalize_labels", counting)
    html = write_report(_report(), tmp_path).read_text(encoding="utf-8")
    assert calls == [40]
    assert "table-class-wise" in html and "table-duplicates-class" in html and "table-cluster-class" in html


def test_class_sets_passes_through_and_matches() -> None:
    labs = {i: [i % 3, (i + 1) % 3] if i % 5 == 0 else i % 3 for i in range(30)}
    sets = tables.class_sets(labs, ["a", "b", "c"])
    assert isinstance(sets, tables.ClassSets)
    assert tables.class_sets(sets) is sets
    assert sets[0] == ["a", "b"] and sets[1] == ["b"] and sets[2] == ["c"]
    issues = {0: {"brightness": 1.0}, 4: {"zero": 0.5}}
    for table in (tables.class_wise_table, tables.flagged_images_table):
        a, b = table(issues, labs, ["a", "b", "c"]), table(issues, sets, ["a", "b", "c"])
        assert a.equals(b)
    dups = {"exact": [[0, 1]], "near": [[2, 5, 7]]}
    for table in (tables.duplicates_by_class_table, tables.duplicate_groups_table):
        assert table(dups, labs, ["a", "b", "c"]).equals(table(dups, sets, ["a", "b", "c"]))


def test_inside_folder_only_the_wanted_paths() -> None:
    paths = {i: f"/d/x/c{i % 2}/{i}.png" for i in range(10)}
    whole = tables.inside_folder(paths)
    part = tables.inside_folder(paths, only=[3, 8, 99])
    assert part == {3: "c1/3.png", 8: "c0/8.png"} == {i: whole[i] for i in (3, 8)}
    # the folder is still the one of every path, not of the wanted ones
    assert tables.inside_folder({0: "/d/a/x.png", 1: "/d/b/y.png"}, only=[0]) == {0: "a/x.png"}


def test_duplicate_groups_table_names_only_members() -> None:
    paths = {i: f"/d/x/{i}.png" for i in range(1000)}
    df = tables.duplicate_groups_table({"exact": [[1, 2]], "near": []}, paths=paths)
    assert df["files"].tolist() == ["1.png, 2.png"]


@pytest.mark.parametrize(
    "labs",
    [
        [3, 1, 2, 3],
        ["cat", "dog", "cat"],
        [0, "x", 2],
        [True, 1, 0],  # bools: the general path (True -> 1)
        [1, np.int64(2), 3],  # a numpy scalar: the general path
        [1, [2, 3], None, 4],
    ],
)
def test_plain_labels_fast_path_same_classes(labs: list) -> None:
    general = [labels_mod._objects(v, i) for i, v in enumerate(labs)]  # noqa: SLF001 - the reference
    assert labels_mod.normalize_labels(labs) == general
    names = ["n0", "n1", "n2", "n3"]
    assert labels_mod.normalize_labels(labs, names) == [
        [names[c] if isinstance(c, int) and 0 <= c < 4 else c for c in objs] for objs in general
    ]


def test_label_stats_one_class_an_image_against_a_reference() -> None:
    rng = np.random.default_rng(4)
    labs = {int(i): int(c) for i, c in zip(rng.permutation(500)[:300], rng.integers(0, 5, 300))}
    out = labels_mod.label_stats(labs, ["a", "b", "c", "d", "e", "f"])
    keys = sorted(labs)
    names = {c: "abcdef"[c] for c in range(6)}
    present = [n for n in "abcdef" if any(names[labs[k]] == n for k in keys)]
    assert list(out.label_counts_per_class) == present
    assert out.label_counts_per_class == out.image_counts_per_class
    assert out.label_counts_per_class == {n: sum(names[labs[k]] == n for k in keys) for n in present}
    assert out.image_indices_per_class == {n: [k for k in keys if names[labs[k]] == n] for n in present}
    assert out.classes_per_image == [[names[labs[k]]] for k in keys]
    assert out.label_counts_per_image == [1] * 300 and out.images_without_labels == []
    assert out.classes == list("abcdef") and out.label_count == 300 and out.class_count == len(present)


def test_class_wise_table_counts_against_a_reference() -> None:
    rng = np.random.default_rng(6)
    n = 2000
    labs = {i: [int(c) for c in rng.integers(0, 4, rng.integers(0, 3))] for i in range(n)}
    metrics = ["brightness", "zero", "entropy"]
    issues = {int(i): {m: 1.0 for m in metrics if rng.random() < 0.5} or {"zero": 0.5} for i in rng.integers(0, n + 50, 400)}
    df = tables.class_wise_table(issues, labs)
    for row in df.index[:-1]:
        members = [
            i for i in issues
            if (i in labs and ((not labs[i] and row == tables.NO_OBJECTS) or row in map(str, labs[i])))
            or (i not in labs and row == tables.UNLABELLED)
        ]  # fmt: skip
        for m in metrics:
            assert df.loc[row, m] == sum(m in issues[i] for i in members), (row, m)
        assert df.loc[row, "flagged images"] == len(members)
    assert df.loc["Total", "flagged images"] == len(issues)
