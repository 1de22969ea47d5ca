"""Embeddings to candidates: exact watchlist index, score calibration and thresholds."""
