"""ml_collections configs, one `get_config(arg)` per paper variant; arg like "dataset=etf3d,scale=paper"."""
