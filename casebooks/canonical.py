"""What a signature is bound to: a canonical serialisation of the signed record and its SHA-256.

A visit is the participant's responses at one timepoint: per form its instrument, version,
interview date, items, missing-data reasons, comments and scores. Verification is left out on
purpose: marking a form source-verified does not change what the investigator approved (the
form's version does not change either). The serialisation is JSON with sorted keys, no
whitespace and UTF-8 text, so the same content always gives the same bytes, whatever the
database's key order or Python's dict order."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import date
from typing import Any

from assessments.models import InstrumentResponse


def canonical_bytes(content: Any) -> bytes:
    return json.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode("utf-8")


def sha256_of(content: Any) -> str:
    return hashlib.sha256(canonical_bytes(content)).hexdigest()


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def form_content(response: InstrumentResponse) -> dict[str, Any]:
    return {
        "instrument": response.instrument,
        "version": response.version,
        "interview_date": _iso(response.interview_date),
        "items": response.items,
        "missing": response.missing,
        "comments": response.comments,
        "scores": response.scores,
    }


def visit_content(participant: Any, timepoint: str) -> dict[str, Any]:
    """The signed content of one visit: its forms, in instrument order."""
    responses = InstrumentResponse.objects.filter(participant=participant, timepoint=timepoint)
    return visit_content_of(participant.study_id, timepoint, responses)


def visit_content_of(
    study_id: str, timepoint: str, responses: Iterable[InstrumentResponse]
) -> dict[str, Any]:
    """The same from responses already read (the exports read every visit at once)."""
    forms = sorted(responses, key=lambda r: r.instrument)
    return {
        "participant": study_id,
        "timepoint": timepoint,
        "forms": [form_content(r) for r in forms],
    }


def visit_manifest(content: dict[str, Any]) -> dict[str, int]:
    """instrument -> version: enough to say later which form changed."""
    return {form["instrument"]: form["version"] for form in content["forms"]}


def lock_content(lock: Any) -> dict[str, Any]:
    """The lock row (never changed: an append-only log) and every form's version at lock."""
    versions = InstrumentResponse.objects.order_by("id").values_list("id", "version")
    return {
        "lock": {
            "id": lock.pk,
            "level": lock.level,
            "reason": lock.reason,
            "set_by": lock.set_by_id,
            "set_at": lock.set_at.isoformat(),
        },
        "responses": [[pk, version] for pk, version in versions],
    }


def key_release_content(lock: Any, key_created_at: Any) -> dict[str, Any]:
    """The release of the masking key under one lock. The key itself (sealed) is never part
    of a signature's stored manifest."""
    return {"lock": lock.pk, "key_created_at": key_created_at.isoformat()}
