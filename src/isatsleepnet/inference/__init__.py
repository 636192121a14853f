"""Inference: portable model files and stage probabilities for prepared or raw recordings."""
