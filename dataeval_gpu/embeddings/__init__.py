"""Image embeddings for the Clusterer: any backbone, batched, offline by default.

>>> from dataeval_gpu.embeddings import embed, efficientnet_lite0, resnet18
"""

from .embed import Embedder, default_model, embed, preprocess_images
from .models import efficientnet_lite0, efficientnet_lite0_weights_path, preprocess_config, resnet18

__all__ = [
    "Embedder",
    "default_model",
    "efficientnet_lite0",
    "efficientnet_lite0_weights_path",
    "embed",
    "preprocess_config",
    "preprocess_images",
    "resnet18",
]
