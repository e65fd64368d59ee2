"""Shared pytest set-up: each fixture family lives in its own module, listed here."""

pytest_plugins: list[str] = [
    "tests.support.fixtures_helm",
    "tests.support.fixtures_plugin",
    "tests.support.fixtures_harbor",
    "tests.support.fixtures_registry",
    "tests.support.fixtures_airgap",
    "tests.support.fixtures_signed",
]
