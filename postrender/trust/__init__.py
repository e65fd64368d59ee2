"""Cosign signatures and DSSE attestations checked offline with public keys.

Imports `errors` only, and loads `cryptography`: only `verify --signatures` and `setup --emit
kyverno|kubewarden` import it, never the post-renderer's start-up path. Re-exports nothing, so
importing one module loads no siblings.
"""
