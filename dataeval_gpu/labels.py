"""Label statistics: how many objects and images each class has, and where they are.

The Data Cleaning Guide counts, from one list of object classes per image, the objects per
class (``object_counts``), the images that contain each class (``image_counts``) and the
indices of those images (``index_location``).  :func:`label_stats` computes the same for any
of the usual label layouts:

* one class per image (classification): ``[3, 0, 3]``, ``np.array([...])``, a 1-D tensor,
  ``["cat", "dog"]``;
* a list of object classes per image (detection): ``[[0, 2, 2], [], [1]]`` (an image with
  no objects is an empty list or ``None``), tensors / arrays per image, or torchvision-style
  targets ``{"labels": tensor([...])}`` and VOC annotations
  (``{"annotation": {"object": [{"name": ...}]}}``).

Integer labels are mapped to ``class_names`` when those are given.  Counting is a single
pass of Python over the labels (labels are small next to pixels: 70,000 labels take ~50 ms).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import InvalidArgumentError
from .output import OutputMetadata, set_metadata

__all__ = ["LabelStatsOutput", "as_label", "label_stats", "normalize_labels", "class_order", "class_name"]


def _scalar(v: Any) -> Hashable:
    """A Python int / str / float from a label value (numpy and torch scalars included)."""
    if hasattr(v, "item") and getattr(v, "ndim", 0) == 0:
        v = v.item()
    if isinstance(v, bytes):
        v = v.decode()
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, (int, str, float)):
        return v
    if isinstance(v, Hashable):
        return v
    raise InvalidArgumentError(f"a label must be an int, a string or a list of them, got {type(v).__name__}")


def _objects(item: Any, position: int) -> list[Hashable]:
    """The object classes of one image's label."""
    if item is None:
        return []
    if isinstance(item, Mapping):
        if "labels" in item:
            return _objects(item["labels"], position)
        if "label" in item:
            return _objects(item["label"], position)
        if "annotation" in item:  # torchvision VOCDetection target
            objs = item["annotation"].get("object", [])
            objs = [objs] if isinstance(objs, Mapping) else objs
            return [_scalar(o["name"]) for o in objs]
        raise InvalidArgumentError(
            f"label of image {position}: a dict label needs a 'labels', 'label' or 'annotation' key, "
            f"got keys {sorted(map(str, item))}"
        )
    if isinstance(item, (str, bytes)):
        return [_scalar(item)]
    ndim = getattr(item, "ndim", None)
    if ndim == 0:
        return [_scalar(item)]
    if ndim is not None:  # numpy array or tensor
        flat = item.reshape(-1)
        vals = flat.tolist()
        return [_scalar(v) for v in vals]
    try:
        if isinstance(item, (Sequence, set, frozenset)):
            return [_scalar(v["name"]) if isinstance(v, Mapping) and "name" in v else _scalar(v) for v in item]
        return [_scalar(item)]
    except InvalidArgumentError as exc:
        raise InvalidArgumentError(f"label of image {position}: {exc}") from None


def as_label(value: Any, position: int) -> Any:
    """One image's label as a report keeps it: ``None`` (no label), one class (a Python int,
    str or float) or a list of object classes (detection: a 1-D array / tensor / list, or a
    target dict with a ``"labels"`` / ``"label"`` / ``"annotation"`` key).  A float one-hot
    row is its class; an integer one is a list of object classes, as any integer vector.  Raises
    :class:`~dataeval_gpu.errors.InvalidArgumentError` naming image ``position`` for anything
    else (a segmentation mask, a box array, a dict without labels, nested lists).

    >>> as_label(3, 0), as_label((1, 2), 1), as_label({"labels": [0]}, 2), as_label(None, 3)
    (3, [1, 2], [0], None)
    """
    if value is None:
        return None
    ndim = getattr(value, "ndim", None)
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, (float, np.floating)) for v in value):
        return _float_vector(np.asarray(value, dtype=np.float64), position)  # a batch's row, as tolist() gives it
    if isinstance(value, Mapping) or (
        isinstance(value, (Sequence, set, frozenset)) and not isinstance(value, (str, bytes))
    ):
        return _objects(value, position)
    if ndim is not None and ndim > 1:
        raise InvalidArgumentError(
            f"label of image {position}: a {type(value).__name__} of shape {tuple(value.shape)} is not a class label "
            "(one class, or a list of object classes per image); a segmentation mask or a box array is not read as labels"
        )
    if ndim == 1 and _is_float(value):
        return _float_vector(value, position)
    if ndim == 1:
        return _objects(value, position)
    try:
        return _scalar(value)
    except InvalidArgumentError as exc:
        raise InvalidArgumentError(f"label of image {position}: {exc}") from None


def _is_float(value: Any) -> bool:
    dtype = getattr(value, "dtype", None)
    return bool(getattr(dtype, "is_floating_point", False)) or getattr(dtype, "kind", "") == "f"


def _float_vector(value: Any, position: int) -> Any:
    """A float 1-D label: a one-hot row (``np.eye(k)[c]``, ``F.one_hot(y).float()``) is class
    ``c``; whole numbers are object classes; other values (class probabilities, MixUp or
    label-smoothing targets) are no class label: raises, naming the image."""
    vals = [float(v) for v in value.reshape(-1).tolist()]
    if len(vals) > 1 and sorted(vals) == [0.0] * (len(vals) - 1) + [1.0]:
        return vals.index(1.0)
    if all(v.is_integer() for v in vals):
        return _objects(value, position)
    raise InvalidArgumentError(
        f"label of image {position}: a float vector {[round(v, 3) for v in vals[:4]]}{' ...' if len(vals) > 4 else ''} "
        "is not a class label (class probabilities or soft targets); give the class, e.g. target.argmax(-1)"
    )


def normalize_labels(labels: Any, class_names: Sequence[str] | None = None) -> list[list[Hashable]]:
    """One list of object classes per image (empty for an image with no objects).

    ``labels`` may be one class per image or one collection of classes per image (see the
    module notes); a 1-D array / tensor is one class per image, a 2-D one is one row of
    object classes per image.  With ``class_names``, integer classes become names.

    >>> normalize_labels([1, 0, 1], class_names=["cat", "dog"])
    [['dog'], ['cat'], ['dog']]
    >>> normalize_labels([[0, 2, 2], [], None, 1])
    [[0, 2, 2], [], [], [1]]
    """
    if labels is None:
        raise InvalidArgumentError("labels must be a sequence (one entry per image), got None")
    positions = None
    if isinstance(labels, Mapping):  # {index: label} as kept by DataAudit
        positions = sorted(labels, key=int)
        labels = [labels[k] for k in positions]
    ndim = getattr(labels, "ndim", None)
    if ndim is not None:
        if ndim == 0:
            raise InvalidArgumentError("labels must hold one entry per image, got a scalar")
        if ndim == 1:
            per_image = [[_scalar(v)] for v in labels.tolist()]
        else:
            per_image = [[_scalar(v) for v in row] for row in labels.reshape(labels.shape[0], -1).tolist()]
    elif {type(v) for v in labels} <= {int, str}:  # one plain class an image: itself (a million in 0.1 s)
        per_image = [[v] for v in labels]
    else:
        where = positions if positions is not None else range(len(labels))
        per_image = [_objects(item, i) for i, item in zip(where, labels)]
    if class_names:
        names = list(class_names)
        per_image = [[_to_name(c, names) for c in objs] for objs in per_image]
    return per_image


def _to_name(c: Hashable, names: list[str]) -> Hashable:
    if isinstance(c, int) and 0 <= c < len(names):
        return names[c]
    return c


def class_name(label: Any, class_names: Sequence[str] | None = None) -> str:
    """A short text for one image's label: the class name(s), ``-`` joined, or ``(none)``.

    >>> class_name(2, ["a", "b", "c"]), class_name([0, 0, 1], ["a", "b"]), class_name([])
    ('c', 'a-b', '(none)')
    """
    objs = _objects(label, 0)
    if class_names:
        objs = [_to_name(c, list(class_names)) for c in objs]
    uniq = list(dict.fromkeys(objs))
    return "-".join(str(c) for c in uniq) if uniq else "(none)"


def _sort_key(c: Hashable) -> tuple[int, Any]:
    if isinstance(c, (int, float)):
        return (0, c)
    return (1, str(c))


def class_order(classes: Any, class_names: Sequence[str] | None = None) -> list[Hashable]:
    """Classes in report order: ``class_names`` order first, then the rest sorted (numbers first)."""
    present = list(dict.fromkeys(classes))
    if class_names:
        named = [n for n in class_names]
        known = set(named)
        rest = sorted((c for c in present if c not in known), key=_sort_key)
        return named + rest
    return sorted(present, key=_sort_key)


@dataclass(frozen=True)
class LabelStatsOutput(OutputMetadata):
    """What :func:`label_stats` counts.  Class keys are in report order (see :func:`class_order`).

    Attributes
    ----------
    label_counts_per_class : {class: objects of that class} (the guide's ``object_counts``).
    image_counts_per_class : {class: images containing the class} (the guide's ``image_counts``).
    image_indices_per_class : {class: sorted image indices} (the guide's ``index_location``).
    label_counts_per_image : objects in each image (the guide's objects per image).
    classes_per_image : the distinct classes of each image, in order of first appearance.
    image_count, class_count, label_count : images, distinct classes with at least one object,
        objects.
    images_without_labels : indices of the images with no object.
    classes : every class in report order (with ``class_names``: all names, also absent ones).
    """

    label_counts_per_class: dict[Hashable, int]
    image_counts_per_class: dict[Hashable, int]
    image_indices_per_class: dict[Hashable, list[int]]
    label_counts_per_image: list[int]
    classes_per_image: list[list[Hashable]] = field(repr=False)
    image_count: int
    class_count: int
    label_count: int
    images_without_labels: list[int]
    classes: list[Hashable]

    # ---- the guide's names (and DataEval 1.x's labelstats names)
    @property
    def object_counts(self) -> dict[Hashable, int]:
        return self.label_counts_per_class

    @property
    def image_counts(self) -> dict[Hashable, int]:
        return self.image_counts_per_class

    @property
    def index_location(self) -> dict[Hashable, list[int]]:
        return self.image_indices_per_class

    @property
    def objects_per_image(self) -> list[int]:
        return self.label_counts_per_image

    @property
    def image_indices_per_label(self) -> dict[Hashable, list[int]]:
        return self.image_indices_per_class

    @property
    def image_counts_per_label(self) -> dict[Hashable, int]:
        return self.image_counts_per_class

    @property
    def is_multilabel(self) -> bool:
        """True when some image does not have exactly one object (detection-style labels)."""
        return any(n != 1 for n in self.label_counts_per_image)

    def dict(self) -> dict[str, Any]:
        return {
            "label_counts_per_class": self.label_counts_per_class,
            "image_counts_per_class": self.image_counts_per_class,
            "image_indices_per_class": self.image_indices_per_class,
            "label_counts_per_image": self.label_counts_per_image,
            "image_count": self.image_count,
            "class_count": self.class_count,
            "label_count": self.label_count,
            "images_without_labels": self.images_without_labels,
        }

    def to_pandas(self) -> Any:
        """One row per class: objects, images, share of the images; a ``Total`` row last.

        The ``Total`` row counts every object and every image once (an image holding
        several classes counts once there, once per class above).
        """
        import pandas as pd

        rows = []
        n = max(self.image_count, 1)
        for c in self.classes:
            imgs = self.image_counts_per_class.get(c, 0)
            rows.append(
                {
                    "class": str(c),
                    "objects": self.label_counts_per_class.get(c, 0),
                    "images": imgs,
                    "% of images": round(100.0 * imgs / n, 2),
                }
            )
        labelled = self.image_count - len(self.images_without_labels)
        rows.append(
            {
                "class": "Total",
                "objects": self.label_count,
                "images": labelled,
                "% of images": round(100.0 * labelled / n, 2),
            }
        )
        return pd.DataFrame(rows).set_index("class")

    def table(self) -> str:
        """The guide's printout: ``Object: Total Count - Image Count`` per class."""
        width = max([11] + [len(str(c)) for c in self.classes])
        lines = [f"{'Object':>{width}}: Total Count - Image Count"]
        for c in self.classes:
            lines.append(
                f"{str(c):>{width}}:    {self.label_counts_per_class.get(c, 0):>4}     -   "
                f"{self.image_counts_per_class.get(c, 0):>4}"
            )
        return "\n".join(lines)


@set_metadata("dataeval_gpu.labels")
def label_stats(labels: Any, class_names: Sequence[str] | None = None) -> LabelStatsOutput:
    """Objects per class, images per class and their indices, objects per image.

    Parameters
    ----------
    labels : one entry per image: a class (int, str, numpy / torch scalar), or a collection
        of object classes (list, tuple, array, tensor, ``{"labels": ...}``; empty or ``None``
        for an image without objects).  A 1-D array / tensor is one class per image.  A
        ``{index: label}`` dict (``AuditReport.labels``) is read in index order, and its keys
        are the indices in ``image_indices_per_class`` and ``images_without_labels``
        (``label_counts_per_image`` follows the sorted keys).
    class_names : names for the integer classes (``class_names[i]`` for class ``i``); every
        name is listed in ``classes`` even when no image has it.

    Examples
    --------
    >>> out = label_stats([["dog", "person", "person"], [], ["dog"]])
    >>> out.object_counts, out.image_counts, out.index_location
    ({'dog': 2, 'person': 2}, {'dog': 2, 'person': 1}, {'dog': [0, 2], 'person': [0]})
    >>> out.objects_per_image, out.image_count, out.class_count, out.label_count, out.images_without_labels
    ([3, 0, 1], 3, 2, 4, [1])
    >>> label_stats([1, 0, 1], class_names=["cat", "dog"]).image_counts
    {'cat': 1, 'dog': 2}
    """
    per_image = normalize_labels(labels, class_names)
    keys = sorted(int(k) for k in labels) if isinstance(labels, Mapping) else range(len(per_image))
    object_counts: Counter[Hashable] = Counter()
    image_counts: Counter[Hashable] = Counter()
    index_location: dict[Hashable, list[int]] = {}
    classes_per_image: list[list[Hashable]] = []
    if all(len(objs) == 1 for objs in per_image):  # one class an image: counted at once (a million labels)
        flat = [objs[0] for objs in per_image]
        object_counts.update(flat)
        image_counts.update(flat)
        classes_per_image = [list(objs) for objs in per_image]
        for i, c in zip(keys, flat, strict=True):
            index_location.setdefault(c, []).append(i)
    for i, objs in zip(keys, per_image, strict=True) if not classes_per_image else ():
        object_counts.update(objs)
        uniq = list(dict.fromkeys(objs))
        classes_per_image.append(uniq)
        image_counts.update(uniq)
        for c in uniq:
            index_location.setdefault(c, []).append(i)
    order = class_order(object_counts.keys(), class_names)
    present = [c for c in order if c in object_counts]
    return LabelStatsOutput(
        label_counts_per_class={c: int(object_counts[c]) for c in present},
        image_counts_per_class={c: int(image_counts[c]) for c in present},
        image_indices_per_class={c: index_location[c] for c in present},
        label_counts_per_image=[len(o) for o in per_image],
        classes_per_image=classes_per_image,
        image_count=len(per_image),
        class_count=len(present),
        label_count=int(sum(object_counts.values())),
        images_without_labels=[i for i, o in zip(keys, per_image, strict=True) if not o],
        classes=order,
    )
