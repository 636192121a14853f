"""Evaluation: the paper's metrics, reports and their comparison with the paper."""
