"""Rendering: shaded face images, side-by-side comparisons, contact sheets and videos with audio."""
