"""The API's JSON parser: DRF's, with refusals that keep bad input from crashing a view or
reaching PostgreSQL (DESIGN.md invariant 6, "Bad input writes nothing")."""

from __future__ import annotations

from typing import Any

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from trial.inputs import NUL_MESSAGE

# No request of API.md nests deeper than a few levels ({"items": {"P1": 3}}). Deeper documents
# would only reach code that walks them recursively (serializers, json.dumps) and fails there.
MAX_DEPTH = 16
TOO_DEEP = format_lazy(
    _("JSON parse error - the document is nested more than {depth} levels deep."), depth=MAX_DEPTH
)


def depth_and_nul(value: Any) -> tuple[int, bool]:
    """How deeply a parsed JSON value nests, and whether a NUL character is anywhere in it
    (keys included): PostgreSQL stores neither text nor jsonb with one. Iterative, so that no
    document can exhaust the stack."""
    deepest, nul = 0, False
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        node, level = pending.pop()
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest, nul
        if isinstance(node, str):
            nul = nul or "\x00" in node
        elif isinstance(node, dict):
            nul = nul or any("\x00" in key for key in node)
            pending.extend((v, level + 1) for v in node.values())
        elif isinstance(node, list):
            pending.extend((v, level + 1) for v in node)
    return deepest, nul


class TrialJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            # Python's json module gives up on very deep nesting with RecursionError, which is
            # not a ValueError, so DRF would let it through as a server error.
            raise ParseError(TOO_DEEP) from None
        deepest, nul = depth_and_nul(data)
        if deepest > MAX_DEPTH:
            raise ParseError(TOO_DEEP)
        if nul:
            if isinstance(data, dict) and not any("\x00" in key for key in data):
                raise ParseError({k: [NUL_MESSAGE] for k, v in data.items() if depth_and_nul(v)[1]})
            raise ParseError(NUL_MESSAGE)
        return data
