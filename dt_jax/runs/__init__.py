"""Trained runs: finding and loading a run directory (teacher, distillation round), and sampling motion from it."""
