"""Tests of dataeval_gpu.embeddings."""
