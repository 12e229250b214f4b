"""Flax linen models: audio encoders, the contrastive personalizer, the denoiser, and the talker that joins them."""
