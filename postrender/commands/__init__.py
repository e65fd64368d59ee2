"""One module per command; each exposes a plain function and a thin CLI wrapper."""
