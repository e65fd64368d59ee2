"""Creating something that a concurrent run may have just created."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from postrender.errors import HarborAPIError

T = TypeVar("T")


def create_once(create: Callable[[], T]) -> T | None:
    """Run `create`; None when Harbor answers 409 (it exists now: the caller re-reads it)."""
    try:
        return create()
    except HarborAPIError as error:
        if error.status != 409:
            raise
        return None
