"""Evaluation: metrics on vertices and their aggregation over a split."""
