"""Import of register data (service use). All or nothing: a file with any bad or unmatched
line changes nothing and the report lists every problem by line number. A new import
supersedes the previous one, which is kept (with its rows) for the audit trail."""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from assessments import permissions
from assessments.models import RegisterImport, ServiceUsePeriod
from assessments.register import parse
from participants.models import Participant
from trial import access
from trial.access import Viewer
from trial.audit import audit_context
from trial.errors import Conflict, Forbidden, Invalid
from trial.inputs import NUL_MESSAGE
from trial.selectors import lock_level


def file_digest(content: bytes) -> str:
    """A keyed digest of the file: it identifies an imported file in the audit trail, and,
    unlike a plain SHA-256, cannot be confirmed by guessing the CPR numbers of a small file."""
    key = hashlib.sha256(b"imrtrial:register-file:" + settings.CPR_KEYS[0].encode()).digest()
    return hmac.new(key, content, hashlib.sha256).hexdigest()


def _owners(hash_lists: list[list[str]]) -> dict[str, int]:
    wanted = {h for hashes in hash_lists for h in hashes}
    return dict(Participant.objects.filter(cpr_hash__in=wanted).values_list("cpr_hash", "id"))


def register_import(*, user: Viewer, content: bytes, note: str = "") -> RegisterImport:
    if not access.has_role(user, *permissions.REGISTER_IMPORTERS):
        raise Forbidden(_("Data managers import register data."))
    if not content:
        raise Invalid(_("No file."), fields={"file": [_("Choose the register file to import.")]})
    if len(content) > settings.REGISTER_IMPORT_MAX_BYTES:
        raise Invalid(
            _("The file is too large."),
            fields={
                "file": [
                    _("At most {REGISTER_IMPORT_MAX_BYTES_1024_1024} MB.").format(
                        REGISTER_IMPORT_MAX_BYTES_1024_1024=settings.REGISTER_IMPORT_MAX_BYTES
                        // 1024
                        // 1024,
                    )
                ]
            },
        )
    note = (note or "").strip()
    if "\x00" in note:
        raise Invalid(
            _("The note has a NUL character."),
            fields={"note": [NUL_MESSAGE]},
        )
    if lock_level() != "open":
        raise Conflict(_("The trial database is frozen or locked: register data cannot change."))
    parsed = parse(content, hashes_to_participant=_owners)
    if parsed.errors:
        raise Invalid(_("The file was not imported."), fields={"file": parsed.errors})
    previous = RegisterImport.objects.select_for_update().filter(superseded_by__isnull=True)
    with transaction.atomic(), audit_context(user=user, reason=note or "Register data import"):
        current = list(previous)
        now = timezone.now()
        created = RegisterImport.objects.create(
            imported_by=access.signed_in(user),
            imported_at=now,
            file_sha256=file_digest(content),
            lines=len(parsed.lines),
            participants=len({line.participant_id for line in parsed.lines}),
            note=note,
        )
        ServiceUsePeriod.objects.bulk_create(
            ServiceUsePeriod(
                register_import=created,
                participant_id=line.participant_id,
                line=line.number,
                period_start=line.period_start,
                period_end=line.period_end,
                **line.counts,
            )
            for line in parsed.lines
        )
        for old in current:
            old.superseded_by = created
            old.superseded_at = now
            old.save(update_fields=["superseded_by", "superseded_at"])
    return created
