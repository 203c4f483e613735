"""Tests of dataeval_gpu.audit."""
