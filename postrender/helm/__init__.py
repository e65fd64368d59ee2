"""Everything that runs or imitates Helm: its homes, its argument grammar, running it through
Harbor (`harbor`: chart URL, robot login, CA) for `helm template` and the wrappers.

May import `rewrite`, `secretfile`, `errors` and `settings`; `paths` is on the post-renderer's
start-up path, so this `__init__` stays empty.
"""
