"""`{{ value|translated }}`: a word the code keeps untranslated (a state, an audit action,
marked with gettext_noop where it is defined) shown in the reader's language. Values that are
not text, and text without a translation, pass unchanged."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import gettext

register = template.Library()


@register.filter
def translated(value: Any) -> Any:
    if isinstance(value, str) and value:
        return gettext(value)
    return value
