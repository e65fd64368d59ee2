"""Everything that runs or imitates Helm: its argument grammar, running it through Harbor
(`harbor`: chart arguments, the endpoint's login and CA) for `helm template` and the wrappers.

May import `rewrite`, `endpoint`, `errors`, `settings` and `helmhome`; this `__init__` stays
empty, so importing one module loads no siblings.
"""
