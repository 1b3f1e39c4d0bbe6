"""Filled-in forms for tests, built from the instrument modules."""

from __future__ import annotations

from typing import Any

from instruments import registry
from tests.factories import api_client


def extreme_items(code: str, end: str = "min") -> dict[str, Any]:
    """Every entered item at its lowest (`min`) or highest (`max`) allowed value. PSP gets a
    consistent profile: worst domains with the lowest total, or all absent with 100."""
    if code == "PSP":
        if end == "min":
            return {
                "PSP_A": 6,
                "PSP_B": 6,
                "PSP_C": 6,
                "PSP_D": 6,
                "PSP_D10_SURVIVAL": 1,
                "PSP_TOTAL": 1,
            }
        return {"PSP_A": 1, "PSP_B": 1, "PSP_C": 1, "PSP_D": 1, "PSP_TOTAL": 100}
    if code == "DEMOG":
        return {
            "HOUSING": 1,
            "EMPLOYMENT": 1,
            "EDUCATION": 1,
            "LIVING": 1,
            "DX_GROUP": 1,
            "DX_ICD10": "F20.0",
            "SUBSTANCE": 0,
        }
    instrument = registry.get(code)
    items = {}
    for item in instrument.entered_items:
        values = item.allowed_values()
        assert values, item.code
        items[item.code] = min(values) if end == "min" else max(values)
    return items


def typical_items(code: str) -> dict[str, Any]:
    """A complete, plausible form."""
    if code in ("PSP", "DEMOG"):
        return {
            "PSP": {"PSP_A": 3, "PSP_B": 2, "PSP_C": 1, "PSP_D": 1, "PSP_TOTAL": 65},
            "DEMOG": extreme_items("DEMOG"),
        }[code]
    instrument = registry.get(code)
    items = {}
    for item in instrument.entered_items:
        values = item.allowed_values()
        assert values, item.code
        items[item.code] = values[len(values) // 2]
    return items


def form_url(participant: Any, timepoint: str, code: str) -> str:
    return f"/api/v1/participants/{participant.pk}/assessments/{timepoint}/{code}/"


def put_form(
    user: Any,
    participant: Any,
    timepoint: str,
    code: str,
    items: dict[str, Any],
    **extra: Any,
) -> Any:
    payload = {"items": items, "status": "complete"} | extra
    return api_client(user).put(form_url(participant, timepoint, code), payload, format="json")


def randomize_days_ago(participant: Any, days: int, arm: str = "TAU") -> None:
    """Randomise `days` ago (visit windows run from the randomisation date), with registration
    and consent before it."""
    from datetime import timedelta

    from django.utils import timezone

    from participants.models import Participant
    from tests.factories import allocate

    randomized_at = timezone.now() - timedelta(days=days)
    allocate(participant, arm, randomized_at=randomized_at)
    # Registration and consent happened before randomisation.
    Participant.objects.filter(pk=participant.pk).update(
        registered_at=randomized_at - timedelta(days=14),
        consent_date=timezone.localdate(randomized_at) - timedelta(days=7),
    )
    participant.refresh_from_db()
