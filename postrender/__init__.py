"""helm-harbor-mirror: run Helm charts from SUSE Application Collection through a Harbor mirror."""

__version__ = "0.1.0"
