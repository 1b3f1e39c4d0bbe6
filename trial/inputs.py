"""Reading what people type: rules the pages, the API and the file readers share."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

# PostgreSQL stores neither text nor jsonb with a NUL character: such input is refused as bad.
NUL_MESSAGE = _("Text cannot contain the NUL character (\\u0000).")


def digits(text: str) -> bool:
    """ASCII digits only: str.isdigit() is also true for "²", which int() refuses."""
    return text.isascii() and text.isdigit()


def whole_number(text: str) -> int | None:
    """The number a string of ASCII digits spells, else None."""
    return int(text) if digits(text) else None
