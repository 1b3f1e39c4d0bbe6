"""Reads about allocation. Everything that shows an arm goes through `allocation_fields` or
`arm_of`, and both consult imrtrial.access.may_see_allocation."""

from __future__ import annotations

from typing import Any

from imrtrial import access
from randomization.models import Allocation


def allocation_of(participant: Any) -> Allocation | None:
    try:
        return participant.allocation
    except Allocation.DoesNotExist:
        return None


def allocation_fields(participant: Any, user: Any) -> dict[str, Any]:
    """Fields to add to a participant's representation. The date of randomisation is arm-free
    and everyone needs it (visit windows run from it); the arm and the randomisation code go
    only to users who may see allocation."""
    allocation = allocation_of(participant)
    if allocation is None:
        return {}
    fields: dict[str, Any] = {"randomized_at": allocation.randomized_at}
    if access.may_see_allocation(user):
        fields["arm"] = allocation.arm
        fields["randomization_code"] = allocation.randomization_code
    return fields


def arm_of(participant: Any, *, user: Any) -> str | None:
    """The participant's arm for a user who may see it; None for everyone else."""
    if not access.may_see_allocation(user):
        return None
    allocation = allocation_of(participant)
    return allocation.arm if allocation else None
