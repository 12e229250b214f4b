"""Inference from a wav: long audio in overlapping windows, personal overrides, and the files a user gets."""
