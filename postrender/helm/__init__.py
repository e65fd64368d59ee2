"""Everything that runs or imitates Helm: its homes, its argument grammar, `helm template`.

May import `rewrite`, `errors` and `settings`; `paths` is on the post-renderer's start-up path, so
this `__init__` stays empty.
"""
