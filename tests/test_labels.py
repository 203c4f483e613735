"""Label statistics against hand-computed values: classification and detection layouts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dataeval_gpu.errors import InvalidArgumentError
from dataeval_gpu.labels import class_name, class_order, label_stats, normalize_labels

# detection-style labels: several objects per image, repeated classes, images with none
#   image 0: dog, person, person      image 3: (none)
#   image 1: person                   image 4: cat, dog, cat, cat
#   image 2: (none)                   image 5: person
DETECTION = [["dog", "person", "person"], ["person"], [], None, ["cat", "dog", "cat", "cat"], ["person"]]


def test_detection_hand_computed() -> None:
    out = label_stats(DETECTION)
    # objects per class: dog 1+1, person 2+1+1, cat 3
    assert out.object_counts == {"cat": 3, "dog": 2, "person": 4}
    assert out.label_counts_per_class == out.object_counts
    # images containing each class
    assert out.image_counts == {"cat": 1, "dog": 2, "person": 3}
    assert out.index_location == {"cat": [4], "dog": [0, 4], "person": [0, 1, 5]}
    assert out.objects_per_image == [3, 1, 0, 0, 4, 1]
    assert out.image_count == 6
    assert out.label_count == 9
    assert out.class_count == 3
    assert out.images_without_labels == [2, 3]
    assert out.classes == ["cat", "dog", "person"]
    assert out.classes_per_image[4] == ["cat", "dog"]
    assert out.is_multilabel
    # DataEval 1.x names
    assert out.image_indices_per_label == out.index_location
    assert out.image_counts_per_label == out.image_counts


def test_detection_table_and_frame() -> None:
    out = label_stats(DETECTION)
    df = out.to_pandas()
    assert df.loc["cat", "objects"] == 3 and df.loc["person", "images"] == 3
    assert df.loc["Total", "objects"] == 9
    assert df.loc["Total", "images"] == 4  # images with at least one object, each once
    assert df.loc["dog", "% of images"] == pytest.approx(100 * 2 / 6, abs=0.01)
    text = out.table()
    assert "Total Count - Image Count" in text
    assert "person:       4     -      3" in text


def test_guide_counting_loop_matches() -> None:
    """The guide's Counter / defaultdict loop gives the same numbers."""
    from collections import Counter, defaultdict

    labels = [g or [] for g in DETECTION]
    object_counts: Counter = Counter()
    image_counts: Counter = Counter()
    index_location = defaultdict(list)
    for i, group in enumerate(labels):
        object_counts.update(group)
        unique_items = set(group)
        image_counts.update(unique_items)
        for item in unique_items:
            index_location[item].append(i)
    out = label_stats(DETECTION)
    assert out.object_counts == dict(object_counts)
    assert out.image_counts == dict(image_counts)
    assert out.index_location == dict(index_location)


def test_classification_ints_with_names() -> None:
    out = label_stats([2, 0, 2, 2, 1], class_names=["cat", "dog", "bird", "fish"])
    assert out.object_counts == {"cat": 1, "dog": 1, "bird": 3}
    assert out.image_counts == out.object_counts
    assert out.index_location == {"cat": [1], "dog": [4], "bird": [0, 2, 3]}
    assert out.classes == ["cat", "dog", "bird", "fish"]  # every name listed, fish has no image
    assert out.class_count == 3
    assert not out.is_multilabel
    assert out.to_pandas().loc["fish", "images"] == 0


@pytest.mark.parametrize(
    "labels",
    [
        [1, 0, 1, 3],
        np.array([1, 0, 1, 3]),
        np.array([1, 0, 1, 3], dtype=np.uint8),
        torch.tensor([1, 0, 1, 3]),
        [np.int64(1), np.int32(0), torch.tensor(1), 3.0],
        [[1], [0], (1,), np.array([3])],
        [torch.tensor([1]), torch.tensor([0]), torch.tensor([1]), torch.tensor([3])],
        [{"labels": torch.tensor([1])}, {"labels": [0]}, {"label": 1}, {"labels": np.array([3])}],
        {0: 1, 1: 0, 2: 1, 3: 3},
    ],
    ids=["list", "ndarray", "uint8", "tensor", "scalars", "lists", "tensors", "targets", "dict"],
)
def test_input_layouts_agree(labels: object) -> None:
    out = label_stats(labels)
    assert out.object_counts == {0: 1, 1: 2, 3: 1}
    assert out.index_location == {0: [1], 1: [0, 2], 3: [3]}
    assert out.image_count == 4


def test_detection_tensors_and_empty() -> None:
    labels = [torch.tensor([0, 2, 2]), torch.tensor([], dtype=torch.int64), np.array([1, 2]), []]
    out = label_stats(labels, class_names=["a", "b", "c"])
    assert out.object_counts == {"a": 1, "b": 1, "c": 3}
    assert out.image_counts == {"a": 1, "b": 1, "c": 2}
    assert out.objects_per_image == [3, 0, 2, 0]
    assert out.images_without_labels == [1, 3]


def test_two_d_array_is_objects_per_image() -> None:
    out = label_stats(np.array([[0, 1], [1, 1]]))
    assert out.object_counts == {0: 1, 1: 3}
    assert out.image_counts == {0: 1, 1: 2}


def test_voc_annotation_layout() -> None:
    voc = [
        {"annotation": {"object": [{"name": "dog"}, {"name": "person"}]}},
        {"annotation": {"object": {"name": "cat"}}},  # one object: a dict, not a list
    ]
    out = label_stats(voc)
    assert out.object_counts == {"cat": 1, "dog": 1, "person": 1}


def test_dict_keys_are_indices() -> None:
    out = label_stats({10: "a", 3: ["b", "a"], 7: []})
    assert out.index_location == {"a": [3, 10], "b": [3]}
    assert out.images_without_labels == [7]
    assert out.objects_per_image == [2, 0, 1]  # sorted keys 3, 7, 10


def test_strings_and_numbers_order() -> None:
    assert class_order([3, "b", 1, "a"]) == [1, 3, "a", "b"]
    assert class_order(["x", "b"], class_names=["b", "c"]) == ["b", "c", "x"]


def test_normalize_and_class_name() -> None:
    assert normalize_labels([b"cat", True]) == [["cat"], [1]]
    assert class_name([2, 2, 0], ["a", "b", "c"]) == "c-a"
    assert class_name(None) == "(none)"


def test_errors() -> None:
    with pytest.raises(InvalidArgumentError, match="labels must be a sequence"):
        label_stats(None)
    with pytest.raises(ValueError, match="'labels', 'label' or 'annotation'"):
        label_stats([{"boxes": [1, 2, 3, 4]}])
    with pytest.raises(ValueError, match="one entry per image"):
        label_stats(np.array(3))


def test_empty() -> None:
    out = label_stats([])
    assert out.image_count == 0 and out.class_count == 0 and out.object_counts == {}
    assert out.to_pandas().loc["Total", "images"] == 0


def test_float_one_hot_labels_are_classes_and_soft_targets_are_not_labels() -> None:
    """A DataLoader of one-hot float targets (``np.eye(3)[c]``) gave each image the object
    classes ``[1, 0, 0]`` (two objects of class 0, one of class 1), and soft targets (label
    smoothing, MixUp) the "classes" 0.9 and 0.05.  A one-hot float row is now its class; other
    non-integer float vectors are no class label (``update`` raises, ``scan`` warns)."""
    import warnings

    import torch

    from dataeval_gpu.audit import DataAudit, LabelWarning, scan
    from dataeval_gpu.labels import as_label

    assert as_label(np.eye(3, dtype=np.float32)[2], 0) == 2 and as_label(torch.tensor([0.0, 1.0]), 1) == 1
    assert as_label(torch.tensor([1.0, 2.0]), 2) == [1, 2]  # whole numbers: object classes, as before
    assert as_label(np.array([1, 0, 0]), 3) == [1, 0, 0]  # an integer vector is a list of object classes
    rng = np.random.default_rng(0)
    images = torch.from_numpy(rng.integers(0, 256, (6, 3, 12, 12), dtype=np.uint8))
    classes = [0, 2, 1, 2, 0, 1]
    audit = DataAudit(hashes=False, quality=False)
    audit.update(images, labels=torch.eye(3)[classes])  # a batch: one row per image
    assert audit.compute().labels == dict(enumerate(classes))
    soft = torch.eye(3)[classes] * 0.9 + 0.1 / 3
    with pytest.raises(InvalidArgumentError, match=r"label of image 0: a float vector \[0\.933, 0\.033, 0\.033\]"):
        DataAudit(hashes=False, quality=False).update(images, labels=soft)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = scan(list(zip(images, soft)), hashes=False, quality=False)
    assert report.labels == {} and report.total == 6
    assert any(issubclass(w.category, LabelWarning) and "soft targets" in str(w.message) for w in caught)
