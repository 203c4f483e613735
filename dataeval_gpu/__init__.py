"""dataeval_gpu: batched, GPU-ready image dataset statistics with DataEval definitions."""

__version__ = "0.1.0"
