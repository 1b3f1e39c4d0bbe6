"""Reads for participants, already limited to what the user may see."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from imrtrial import access
from imrtrial.errors import NotFound
from imrtrial.roles import Role
from participants.models import Participant, Site
from participants.studyid import STUDY_ID_PATTERN

# Roles that work with individual participants (fidelity raters rate groups; admins manage
# accounts). Site-scoped roles see their own sites only.
PARTICIPANT_READERS = (
    Role.COORDINATOR,
    Role.ASSESSOR,
    Role.CLINICIAN,
    Role.INSTRUCTOR,
    Role.DATA_MANAGER,
    Role.STATISTICIAN,
    Role.MONITOR,
)


def sites_visible_to(user: Any) -> QuerySet[Site]:
    if access.has_role(user, Role.ADMIN):
        return Site.objects.all()
    return Site.objects.filter(pk__in=access.site_ids(user))


def participants_visible_to(user: Any) -> QuerySet[Participant]:
    ids = access.site_ids(user, *PARTICIPANT_READERS)
    return Participant.objects.filter(site_id__in=ids).select_related("site")


def participant_list(
    *, user: Any, site: str | None = None, status: str | None = None, search: str | None = None
) -> QuerySet[Participant]:
    queryset = participants_visible_to(user)
    if site:
        queryset = queryset.filter(site__code=site.strip().upper())
    if status:
        queryset = queryset.filter(status=status)
    if search:
        text = search.strip().upper()
        match = STUDY_ID_PATTERN.match(text)
        # A complete study ID must match exactly; a fragment finds every ID containing it.
        queryset = (
            queryset.filter(study_id=text) if match else queryset.filter(study_id__contains=text)
        )
    return queryset


def participant_get(*, user: Any, pk: Any) -> Participant:
    """The participant, or NotFound when unknown or outside the user's sites (API.md: 404)."""
    try:
        return participants_visible_to(user).get(pk=int(pk))
    except (Participant.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such participant at your sites.") from None
