"""Creating something that a concurrent run may have just created, then reading it back."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from postrender.errors import HarborAPIError, HarborResponseError

T = TypeVar("T")


def create_once(create: Callable[[], T]) -> T | None:
    """Run `create`; None when Harbor answers 409 (it exists now: the caller re-reads it)."""
    try:
        return create()
    except HarborAPIError as error:
        if error.status != 409:
            raise
        return None


def found_again(found: T | None, what: str) -> T:
    """`found` is what a re-read after Harbor accepted a write returned; None means it is lost."""
    if found is None:
        raise HarborResponseError(f"{what} was accepted but cannot be found again")
    return found
