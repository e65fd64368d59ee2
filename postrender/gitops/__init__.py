"""The rewrites as files for GitOps engines that cannot run a post-renderer: Fleet, Flux, kustomize.

May import `rewrite`, `helm`, `errors` and the bootstrap's file writer; never the network clients.
"""
