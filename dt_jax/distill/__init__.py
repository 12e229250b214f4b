"""Personalizer-guided step-halving distillation: targets, the encoder-compression and enhancer losses, the pure
distill step, and the 16 -> 8 -> 4 -> 2 rounds."""
