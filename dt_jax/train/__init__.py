"""Training: state, optimizer, the pure train step, sharding, checkpoints and the loop."""
