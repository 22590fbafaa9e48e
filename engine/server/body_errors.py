"""The engine's own validation of a request body, answered like FastAPI's: a 422
whose `details.fields` name each bad field (`body.params.fast`)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from fastapi.exceptions import RequestValidationError

from engine.errors import ValidationFailed


@contextlib.contextmanager
def body_fields() -> Iterator[None]:
    """Turn a `ValidationFailed` raised inside into the 422 of a bad body."""
    try:
        yield
    except ValidationFailed as error:
        raise RequestValidationError(
            [
                {
                    "loc": ("body", *issue.get("loc", [issue["path"]])),
                    "msg": issue["message"],
                    "type": "value_error",
                }
                for issue in error.details["issues"]
            ]
        ) from None
