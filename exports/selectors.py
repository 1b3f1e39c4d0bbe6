"""Reads for the freeze/lock and for export jobs, and the rules of who may act on them."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from assessments.selectors import open_query_count as unresolved_queries
from exports.models import ExportJob
from trial import access
from trial.access import Viewer
from trial.errors import NotFound
from trial.roles import TRIAL_ROLES, Role

# Who sets and lifts the freeze and the lock, and who exports (DESIGN.md, "Who uses it").
LOCK_MANAGERS = (Role.DATA_MANAGER, Role.STATISTICIAN)
EXPORTERS = (Role.DATA_MANAGER, Role.STATISTICIAN)


def open_query_count() -> int:
    """Data queries not closed yet (open or answered): they block the lock unless overridden
    with a reason. The assessments app owns queries and counts them."""
    return unresolved_queries()


# --- who may ---------------------------------------------------------------------------


def may_read_lock(user: Viewer) -> bool:
    return access.has_role(user, *TRIAL_ROLES)


def may_manage_lock(user: Viewer) -> bool:
    return access.has_role(user, *LOCK_MANAGERS)


def may_export(user: Viewer) -> bool:
    """Data managers and statisticians make blinded exports."""
    return access.has_role(user, *EXPORTERS)


def may_export_unblinded(user: Viewer) -> bool:
    """Unblinded exports: a statistician who holds no blinded role (blinded wins, so a
    statistician who is also a data manager is blinded)."""
    return access.has_role(user, Role.STATISTICIAN) and access.may_see_allocation(user)


def may_access_job(user: Viewer, job: ExportJob) -> bool:
    """The job's files: for roles allowed to make that kind of export (the owner had that
    right when asking; whoever has lost it since no longer downloads)."""
    if not may_export(user):
        return False
    return job.blinded or may_export_unblinded(user)


def may_receive_masking_key(user: Viewer) -> bool:
    return may_export_unblinded(user)


# --- export jobs -----------------------------------------------------------------------


def export_jobs_visible_to(user: Viewer) -> QuerySet[ExportJob]:
    queryset = ExportJob.objects.select_related("requested_by", "lock")
    if not may_export(user):
        return queryset.none()
    if not may_export_unblinded(user):
        queryset = queryset.filter(blinded=True)
    return queryset.order_by("-requested_at")


def export_job_get(*, user: Viewer, pk: Any) -> ExportJob:
    """The job, or NotFound when unknown or not for this user (an unblinded export does not
    exist for a blinded user)."""
    try:
        return export_jobs_visible_to(user).get(pk=pk)
    except (ExportJob.DoesNotExist, ValueError, TypeError, ValidationError):
        raise NotFound(_("No such export.")) from None
