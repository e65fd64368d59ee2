"""One module per command; each exposes a plain function and a thin click wrapper.

The top layer: it may import every package, and nothing imports it but `cli`.
"""
