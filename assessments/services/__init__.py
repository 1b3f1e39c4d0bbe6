"""Writes for assessments. Each function checks role and site, validates everything before it
writes, runs in one transaction inside audit_context and respects the freeze/lock."""

from assessments.services.queries import (
    query_answer,
    query_close,
    query_raise,
    query_reopen,
    response_for_query,
    sync_automatic_queries,
)
from assessments.services.register import register_import
from assessments.services.responses import (
    SaveResult,
    require_entry_allowed,
    response_save,
    response_verify,
)
from assessments.services.verification import response_verify_fields, verifiable_fields

__all__ = [
    "SaveResult",
    "query_answer",
    "query_close",
    "query_raise",
    "query_reopen",
    "register_import",
    "require_entry_allowed",
    "response_for_query",
    "response_save",
    "response_verify",
    "response_verify_fields",
    "sync_automatic_queries",
    "verifiable_fields",
]
