"""Evaluation harness: score models on science benchmarks with the same verifier."""
