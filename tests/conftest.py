"""Shared pytest set-up: each fixture family lives in its own module, listed here."""

pytest_plugins: list[str] = [
    "tests.fixtures_helm",
    "tests.fixtures_plugin",
    "tests.fixtures_harbor",
    "tests.fixtures_registry",
    "tests.fixtures_airgap",
]
