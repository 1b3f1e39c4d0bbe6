"""Writes for the end of the trial: freeze, lock and unlock; export requests and downloads;
the release of the masking key. Every function checks the caller's role, validates first,
runs in one transaction and leaves audit rows with the user and the reason."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, OperationalError, transaction
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from casebooks import services as signature_services
from casebooks.models import Signature, Subject
from exports import lifecycle, queue, selectors
from exports.models import (
    ExportDownload,
    ExportFormat,
    ExportJob,
    ExportLanguage,
    MaskingKey,
    MaskingKeyRelease,
)
from randomization.models import Arm
from trial import access
from trial.access import Viewer
from trial.audit import audit_context
from trial.errors import Conflict, Forbidden, Invalid, NotFound, sqlstate_of
from trial.lock import serialize_lock_changes, wait_for_writers
from trial.models import DatasetLock
from trial.outbox import enqueue
from trial.sealing import seal, unseal
from trial.selectors import current_lock, lock_level

Level = DatasetLock.Level

# How long a freeze or lock waits for data entry that is being saved at that moment.
WRITER_WAIT = "5s"
DEADLOCK_DETECTED = "40P01"
LOCK_NOT_AVAILABLE = "55P03"

MASKING_PURPOSE = "export-masking-key"
MASKED_GROUPS = ("A", "B")

_STATE_WORDS = {Level.OPEN: _("open"), Level.FREEZE: _("frozen"), Level.LOCK: _("locked")}


# --- freeze, lock, unlock --------------------------------------------------------------


def dataset_freeze(*, user: Viewer, reason: str) -> DatasetLock:
    """No new data entry from now on; queries can still be answered and verified."""
    return _set_level(user=user, level=Level.FREEZE, reason=reason)


def dataset_lock(*, user: Viewer, reason: str, override_open_queries: bool = False) -> DatasetLock:
    """Everything read-only. With open queries only when the caller overrides explicitly; the
    reason then has to explain why."""
    return _set_level(
        user=user, level=Level.LOCK, reason=reason, override_open_queries=override_open_queries
    )


def dataset_unlock(*, user: Viewer, reason: str, to: str = Level.OPEN) -> DatasetLock:
    """Lift the lock or the freeze. `to="freeze"` steps a lock down to a freeze directly, so
    that answering late queries never opens a window for new data entry."""
    if to not in (Level.OPEN, Level.FREEZE):
        raise Invalid(_("Unknown state."), fields={"to": [_("Unlock to 'open' or to 'freeze'.")]})
    return _set_level(user=user, level=to, reason=reason, unlocking=True)


def _set_level(
    *,
    user: Viewer,
    level: str,
    reason: str,
    override_open_queries: bool = False,
    unlocking: bool = False,
) -> DatasetLock:
    if not selectors.may_manage_lock(user):
        raise Forbidden(_("Only a data manager or a statistician can freeze, lock or unlock."))
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(
            _("Give the reason."), fields={"reason": [_("A reason is required for every change.")]}
        )
    for attempt in range(3):
        try:
            return _write_level(
                user=user,
                level=level,
                reason=reason,
                override_open_queries=override_open_queries,
                unlocking=unlocking,
            )
        except OperationalError as exc:
            state = sqlstate_of(exc)
            if state == DEADLOCK_DETECTED and attempt < 2:
                continue
            if state in (DEADLOCK_DETECTED, LOCK_NOT_AVAILABLE):
                raise Conflict(
                    _("Data is being saved at this moment; nothing was changed. Try again.")
                ) from None
            raise
    raise AssertionError("unreachable")  # pragma: no cover


def _write_level(
    *, user: Viewer, level: str, reason: str, override_open_queries: bool, unlocking: bool
) -> DatasetLock:
    with transaction.atomic(), audit_context(user=user, reason=reason, lock_level=level):
        # One transition at a time; the trial tables' triggers only read this table and are
        # not blocked by this mode.
        serialize_lock_changes()
        current = lock_level()
        _check_transition(current=current, wanted=level, unlocking=unlocking)
        open_queries = selectors.open_query_count()
        if level == Level.LOCK and open_queries and not override_open_queries:
            raise Conflict(
                ngettext(
                    "{count} data query is still open. Resolve it first, or lock with the "
                    "explicit override and a reason that says why the lock cannot wait.",
                    "{count} data queries are still open. Resolve them first, or lock with the "
                    "explicit override and a reason that says why the lock cannot wait.",
                    open_queries,
                ).format(count=open_queries)
            )
        if level != Level.OPEN:
            _wait_for_writers()
        return DatasetLock.objects.create(
            level=level,
            reason=reason,
            set_by=user,
            open_queries_override=bool(level == Level.LOCK and open_queries),
            open_queries=open_queries,
        )


def _check_transition(*, current: str, wanted: str, unlocking: bool) -> None:
    word = _STATE_WORDS[Level(current)]
    if unlocking:
        if current == Level.OPEN:
            raise Conflict(_("The database is neither frozen nor locked."))
        if wanted == Level.FREEZE and current != Level.LOCK:
            raise Conflict(_("The database is already frozen (and not locked)."))
        return
    if current == wanted:
        raise Conflict(_("The database is already {word}.").format(word=word))
    if current == Level.LOCK:
        raise Conflict(
            _(
                "The database is locked. To allow answering queries again, unlock it to "
                'a freeze (POST /api/v1/locks/unlock/ with "to": "freeze").'
            )
        )


def _wait_for_writers() -> None:
    """Make the new state hold from the moment it is committed (trial.lock.wait_for_writers)."""
    wait_for_writers(timeout=WRITER_WAIT)


# --- export jobs -----------------------------------------------------------------------


def canonical_formats(formats: Iterable[str]) -> list[str]:
    wanted = set(formats)
    return [choice for choice in ExportFormat.values if choice in wanted]


def export_request(
    *,
    user: Viewer,
    formats: Sequence[str],
    blinded: bool = True,
    language: str = ExportLanguage.ENGLISH,
    odm_audit_records: bool = False,
) -> ExportJob:
    """Queue an export. Blinded: data managers and statisticians. Unblinded: only an unblinded
    statistician, and only while the database is locked (checked again in the snapshot).
    `language` is the language of the labels (codebook, value and variable labels);
    `odm_audit_records` adds an AuditRecord (who, when, why) to each ODM item value."""
    if not selectors.may_export(user):
        raise Forbidden(_("Only data managers and statisticians make exports."))
    unknown = sorted(set(formats) - set(ExportFormat.values))
    choices = ", ".join(ExportFormat.values)
    if not formats:
        raise Invalid(
            _("Choose a format."),
            fields={"formats": [_("Choose at least one of {choices}.").format(choices=choices)]},
        )
    if unknown:
        raise Invalid(
            _("Unknown format."),
            fields={
                "formats": [
                    _("Unknown format(s): {join}. Use {choices}.").format(
                        join=", ".join(unknown),
                        choices=choices,
                    )
                ]
            },
        )
    if language not in ExportLanguage.values:
        raise Invalid(
            _("Unknown language."),
            fields={
                "language": [_("Use one of {join}.").format(join=", ".join(ExportLanguage.values))]
            },
        )
    if not blinded:
        if not selectors.may_export_unblinded(user):
            raise Forbidden(
                _(
                    "Unblinded exports are for the trial statistician only (and not for "
                    "anyone who also holds a blinded role). Ask for a blinded export instead."
                )
            )
        level = lock_level()
        if level != Level.LOCK:
            raise Conflict(
                _("Unblinded exports need a locked database; it is {state}.").format(
                    state=_STATE_WORDS[Level(level)]
                )
            )
    if blinded:
        masking_key_get_or_create()
    with transaction.atomic(), audit_context(user=user, reason="Export requested"):
        job = lifecycle.create(
            user=access.signed_in(user),
            formats=canonical_formats(formats),
            blinded=blinded,
            options={"language": str(language), "odm_audit_records": bool(odm_audit_records)},
        )
        # The build goes to the outbox in the job's own transaction: sent after the commit,
        # or by the worker once Redis is back; the job stays queued meanwhile, never lost.
        enqueue(queue.BUILD_TASK, str(job.pk))
    job.refresh_from_db()
    return job


def export_root() -> Path:
    return Path(settings.EXPORT_ROOT)


def export_file_for_download(
    *, user: Viewer, job: ExportJob, name: str, channel: str, ip: str | None, request_id: str
) -> tuple[Path, dict[str, Any]]:
    """The path of a published file and its entry, after recording the download."""
    if not selectors.may_access_job(user, job):
        raise NotFound(_("No such export."))
    if job.status != ExportJob.Status.DONE:
        raise NotFound(
            _("The export has no files: it is {get_status_display}.").format(
                get_status_display=job.get_status_display().lower(),
            )
        )
    entries = {entry["name"]: entry for entry in job.files}
    entries.setdefault("manifest.json", {"name": "manifest.json", "format": "json"})
    entry = entries.get(name)
    path = export_root() / job.directory / name if entry else None
    if entry is None or path is None or not path.is_file():
        raise NotFound(_("The export has no file of that name."))
    with transaction.atomic(), audit_context(user=user, reason="Export downloaded", file=name):
        ExportDownload.objects.create(
            job=job,
            file_name=name,
            user=access.signed_in(user),
            ip_address=ip,
            request_id=request_id or "",
        )
    return path, entry


# --- the masking key -------------------------------------------------------------------


def masking_key_get_or_create() -> MaskingKey:
    """The trial's masking key, made (at random, sealed) the first time a blinded export is
    requested."""
    existing = MaskingKey.objects.first()
    if existing is not None:
        return existing
    letters = list(MASKED_GROUPS)
    secrets.SystemRandom().shuffle(letters)
    mapping = {"IMR": letters[0], "TAU": letters[1]}
    try:
        with transaction.atomic():
            return MaskingKey.objects.create(
                sealed_mapping=seal(MASKING_PURPOSE, json.dumps(mapping, sort_keys=True))
            )
    except IntegrityError:
        # Someone else made it at the same moment: theirs is the key.
        return MaskingKey.objects.get()


def masking_mapping(key: MaskingKey) -> dict[str, str]:
    """arm -> masked group letter. For the export builder and the release below only."""
    return dict(json.loads(unseal(MASKING_PURPOSE, key.sealed_mapping)))


def masking_key_check_recipient(user: Viewer) -> None:
    if access.is_blinded(user):
        # For blinded users the key does not exist (DESIGN.md, blinding).
        raise NotFound(_("Not found."))
    if not selectors.may_receive_masking_key(user):
        raise Forbidden(_("Only the trial statistician receives the masking key."))


def _releasable_key(user: Viewer) -> tuple[DatasetLock, MaskingKey]:
    masking_key_check_recipient(user)
    lock = current_lock()
    if lock is None or lock.level != Level.LOCK:
        raise Conflict(_("The masking key is released only after the database is locked."))
    key = MaskingKey.objects.first()
    if key is None:
        raise NotFound(_("No blinded export has been made, so there is no masking key."))
    return lock, key


def masking_key_release_sign(
    *,
    request: HttpRequest,
    user: Any,
    password: str,
    otp: str,
    channel: str,
    ip: str | None,
    request_id: str,
) -> dict[str, Any]:
    """The statistician signs the release (password and code again, casebooks) and is shown
    the key. The signature is its own transaction: a wrong password is counted by the
    lockout even though nothing is shown."""
    _, key = _releasable_key(user)
    signature = signature_services.masking_key_release_sign(
        request=request, user=user, key_created_at=key.created_at, password=password, otp=otp
    )
    released = masking_key_release(user=user, channel=channel, ip=ip, request_id=request_id)
    return released | {"signature": signature}


def masking_key_release(
    *, user: Any, channel: str, ip: str | None, request_id: str
) -> dict[str, Any]:
    """Show the masking key to the statistician after the lock, once they have signed its
    release under this lock, and record that it was shown."""
    lock, key = _releasable_key(user)
    if not Signature.objects.filter(
        subject=Subject.MASKING_KEY, dataset_lock=lock, signer=user
    ).exists():
        raise Conflict(
            _(
                "Sign the release of the masking key first: POST your password (and "
                "code) to /api/v1/exports/masking-key/, or use the masking key page."
            )
        )
    mapping = masking_mapping(key)
    with transaction.atomic(), audit_context(user=user, reason="Masking key released"):
        release = MaskingKeyRelease.objects.create(
            user=access.signed_in(user),
            lock=lock,
            channel=channel,
            ip_address=ip,
            request_id=request_id or "",
        )
    groups = [
        {"group": letter, "code": MASKED_GROUPS.index(letter) + 1, "arm": arm}
        | {"arm_label": Arm(arm).label}
        for arm, letter in sorted(mapping.items(), key=lambda pair: pair[1])
    ]
    return {"groups": groups, "released_at": release.at, "key_created_at": key.created_at}
