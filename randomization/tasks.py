"""E-mails about randomisation, sent by Celery after the transaction that caused them has
committed (so nothing is announced that could still roll back). They reach the broker through
the outbox (trial.outbox), which may, rarely, hand one over twice: each task first looks in the
randomisation log for its own record of having been sent, and sends nothing a second time.
Names are given explicitly: outbox rows name their task, and must still find it after a
refactoring."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, get_connection
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from randomization.log import Kind, log_event
from randomization.models import Allocation, RandomizationLogEntry
from trial import access
from trial.audit import task_context
from trial.roles import Role


def _holders(role: str, site_id: int | None = None) -> list[Any]:
    """Active users holding `role` (at `site_id`, or at every site) who may see allocation and
    have an e-mail address. Anyone blinded is left out, whatever else they hold."""
    assignments = Q(role_assignments__role=role)
    if site_id is not None:
        assignments &= Q(role_assignments__site_id=site_id) | Q(role_assignments__site__isnull=True)
    users = (
        get_user_model().objects.filter(assignments, is_active=True).exclude(email="").distinct()
    )
    return [user for user in users.order_by("username") if access.may_see_allocation(user)]


def confirmation_recipients(allocation: Allocation) -> list[Any]:
    recipients = [allocation.randomized_by] if allocation.randomized_by.email else []
    for instructor in _holders(Role.INSTRUCTOR, allocation.participant.site_id):
        if instructor.pk not in {r.pk for r in recipients}:
            recipients.append(instructor)
    return [r for r in recipients if access.may_see_allocation(r)]


def _send(subject: str, body: str, recipients: list[Any]) -> int:
    # One message per person: staff addresses are not shared, and one bad address does not
    # stop the others.
    messages = [
        EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])
        for user in recipients
    ]
    if not messages:
        return 0
    return get_connection().send_messages(messages) or 0


@shared_task(
    name="randomization.tasks.send_randomization_confirmation",
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
def send_randomization_confirmation(allocation_id: int) -> int:
    with task_context("send_randomisation_confirmation", None, allocation=allocation_id):
        allocation = Allocation.objects.select_related("participant__site", "randomized_by").get(
            pk=allocation_id
        )
        participant = allocation.participant
        if RandomizationLogEntry.objects.filter(
            kind=Kind.CONFIRMATION_SENT, participant=participant
        ).exists():
            return 0  # sent already (a participant is randomised once)
        # E-mails go out in the deployment's language (DEFAULT_LANGUAGE), whoever triggered them.
        with translation.override(settings.LANGUAGE_CODE):
            body = render_to_string(
                "randomization/email/confirmation.txt",
                {
                    "allocation": allocation,
                    "participant": participant,
                    "randomized_local": timezone.localtime(allocation.randomized_at),
                },
            )
            subject = _("[IMR trial] {study_id} randomised ({site})").format(
                study_id=participant.study_id, site=participant.site.code
            )
        recipients = confirmation_recipients(allocation)
        sent = _send(subject, body, recipients)
        if sent:
            # The result page says an e-mail was sent, and to whom, only from this entry.
            log_event(
                Kind.CONFIRMATION_SENT,
                channel="task",
                site=participant.site,
                participant=participant,
                message=f"Confirmation e-mail sent to {sent} person(s)",
                detail={"recipients": [u.get_username() for u in recipients]},
            )
        return sent


@shared_task(
    name="randomization.tasks.alert_list_exhausted",
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
def alert_list_exhausted(log_entry_id: int) -> int:
    with task_context("alert_list_exhausted", None, log_entry=log_entry_id):
        entry = RandomizationLogEntry.objects.select_related("site", "participant").get(
            pk=log_entry_id
        )
        if RandomizationLogEntry.objects.filter(
            kind=Kind.EXHAUSTION_ALERT, detail__refusal=log_entry_id
        ).exists():
            return 0  # alerted already
        site = entry.site
        if site is None:
            raise ValueError(f"Log entry {log_entry_id} names no site: not a list exhaustion.")
        recipients = _holders(Role.STATISTICIAN)
        with translation.override(settings.LANGUAGE_CODE):
            body = render_to_string(
                "randomization/email/exhausted.txt",
                {"entry": entry, "at_local": timezone.localtime(entry.at)},
            )
            subject = _("[IMR trial] URGENT: allocation list exhausted at {site}").format(
                site=site.name
            )
        sent = _send(subject, body, recipients)
        log_event(
            Kind.EXHAUSTION_ALERT,
            channel="task",
            site=site,
            participant=entry.participant,
            message=f"{sent} statistician(s) alerted that the list of {site.code} ran out",
            detail={"refusal": entry.pk, "recipients": [u.get_username() for u in recipients]},
        )
        return sent
