"""Diffusion math: the cosine log-SNR schedule, the variance-preserving process, losses and samplers."""
