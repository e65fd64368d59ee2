"""Idempotent Harbor bootstrap: each `ensure_*` step compares, changes only what differs, reports.

Imports `harbor`, `rewrite`, `helm`, `files`, `secretfile`, `settings` and `errors`; node-mirror
snippets sit here beside `setup --emit`. `commands/setup.py` runs the steps in order.
"""
