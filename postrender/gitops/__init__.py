"""The rewrites as files for GitOps engines that cannot run a post-renderer: Fleet, Flux, kustomize,
and the chart's source in Harbor that those files name (the engines pull the chart themselves).

May import `rewrite`, `helm`, `errors` and the bootstrap's file writer; never the network clients.
"""
