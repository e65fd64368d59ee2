"""Idempotent Harbor bootstrap: each `ensure_*` step compares, changes only what differs, reports.

Steps build on the Harbor client (`postrender.harbor`); `commands/setup.py` runs them in order.
"""
