"""Source-data verification per field: a monitor or data manager marks single items of a
saved form as checked against the source (REDCap and OpenClinica work the same way). A mark
holds for the version it was made on: any later change of the form resets it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from assessments import permissions
from assessments.models import FieldVerification, InstrumentResponse, ResponseStatus
from instruments import registry
from trial import access
from trial.access import Viewer
from trial.audit import audit_context
from trial.errors import Conflict, Forbidden, Invalid
from trial.selectors import lock_level

# Fields of a form that are not items but are checked against the source too.
FORM_FIELDS = ("interview_date",)


def verifiable_fields(response: InstrumentResponse) -> list[str]:
    """The fields of the form that can be verified: the interview date and every item that
    is entered (derived items come from the registration and are not on the source)."""
    instrument = registry.get(response.instrument)
    return [*FORM_FIELDS, *(item.code for item in instrument.entered_items)]


def response_verify_fields(
    *, user: Viewer, response: InstrumentResponse, version: int | None, fields: Sequence[Any]
) -> list[FieldVerification]:
    """Mark `fields` of this version of a complete form as source-verified. Fields already
    verified on this version stay as they are. Returns the new marks."""
    instrument = registry.get(response.instrument)
    if not permissions.may_verify(user, instrument):
        raise Forbidden(_("Source-data verification is done by monitors and data managers."))
    allowed = verifiable_fields(response)
    unknown = [str(f) for f in fields if not isinstance(f, str) or f not in allowed]
    if unknown:
        raise Invalid(
            _("Unknown fields."),
            fields={
                "fields": [
                    _("{join}: not a field of {code}.").format(
                        join=", ".join(unknown), code=instrument.code
                    )
                ]
            },
        )
    if not fields:
        raise Invalid(
            _("Nothing chosen."), fields={"fields": [_("Choose the fields you checked.")]}
        )
    if lock_level() == "lock":
        raise Conflict(_("The trial database is locked: nothing can be changed."))
    with (
        transaction.atomic(),
        audit_context(user=user, reason="Source-data verification of fields"),
    ):
        locked = InstrumentResponse.objects.select_for_update().get(pk=response.pk)
        if version is None or version != locked.version:
            raise Conflict(
                _("The form is now version {version}; verify the version you checked.").format(
                    version=locked.version,
                )
            )
        if locked.status not in (ResponseStatus.COMPLETE, ResponseStatus.VERIFIED):
            raise Invalid(
                _("Only a complete form can be verified."),
                fields={"status": [_("The form is a draft.")]},
            )
        done = set(
            FieldVerification.objects.filter(response=locked, version=locked.version).values_list(
                "item", flat=True
            )
        )
        now = timezone.now()
        verifier = access.signed_in(user)
        return [
            FieldVerification.objects.create(
                response=locked,
                item=field,
                version=locked.version,
                verified_by=verifier,
                verified_at=now,
            )
            for field in dict.fromkeys(fields)
            if field not in done
        ]
