"""Tests of dataeval_gpu.integrations."""
