"""Signing. Each service checks who may sign, asks for the credentials again
(accounts.reauth: counted by the lockout like a login), computes the hash of what is signed
and writes the signature in one transaction, under a row lock on what is signed so that two
signings of one visit cannot both pass the "already signed" check."""

from __future__ import annotations

from typing import Any

from django.db import DatabaseError, IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.reauth import reauthenticate
from assessments import selectors as assessment_selectors
from assessments.models import InstrumentResponse
from casebooks import canonical, permissions, selectors
from casebooks.models import MEANINGS, SIGNERS, Meaning, Signature, Subject
from participants.models import Participant
from trial import access
from trial.audit import audit_context
from trial.errors import Conflict, Forbidden, Invalid, from_database_error
from trial.models import DatasetLock
from trial.roles import Role
from trial.selectors import current_lock, lock_level


def _full_name(user: Any) -> str:
    return user.get_full_name().strip() or user.get_username()


def _meaning(subject: str, meaning: str) -> str:
    allowed = MEANINGS[Subject(subject)]
    if not meaning and len(allowed) == 1:
        return allowed[0]
    if meaning not in allowed:
        choices = ", ".join(str(m) for m in allowed)
        raise Invalid(
            _("Unknown meaning {meaning!r}.").format(meaning=meaning),
            fields={
                "meaning": [
                    _("A {Subject} is signed as: {choices}.").format(
                        Subject=Subject(subject).label.lower(), choices=choices
                    )
                ]
            },
        )
    return meaning


def _create(**fields: Any) -> Signature:
    """Insert, turning the database's refusals (signed already, locked) into 409s."""
    try:
        with transaction.atomic():
            return Signature.objects.create(**fields)
    except IntegrityError:
        raise Conflict(_("Already signed with this meaning, and unchanged since.")) from None
    except DatabaseError as error:
        refusal = from_database_error(error)
        if refusal is not None:
            raise refusal from None
        raise


def visit_sign(
    *,
    request: HttpRequest,
    user: Any,
    participant: Participant,
    timepoint: str,
    meaning: str = "",
    password: str,
    otp: str = "",
) -> Signature:
    """The investigator signs one visit of a participant at their site. 403 for anyone else;
    400 for wrong credentials (counted) or meaning; 409 when the visit is not complete, is
    signed already and unchanged, or the database is locked."""
    if not permissions.may_sign_visit(user, participant.site_id):
        raise Forbidden(_("Only the site's principal investigator signs its participants' visits."))
    timepoint = assessment_selectors.parse_timepoint(timepoint)
    meaning = _meaning(Subject.VISIT, meaning)
    # What can be told without credentials first (the investigator sees it on the page): a
    # visit that cannot be signed costs no attempt. Checked again under the row locks below.
    if not selectors.visit_is_complete(participant, timepoint):
        raise Conflict(_("The visit is not complete: every form must be complete first."))
    if lock_level() == DatasetLock.Level.LOCK:
        raise Conflict(_("The trial database is locked: a visit cannot be signed."))
    reauthenticate(request=request, user=user, password=password, otp=otp)
    with transaction.atomic(), audit_context(user=user, reason=f"Signed: {meaning}"):
        # The participant's row lock serialises signings of its visits; the forms' row locks
        # keep a save from changing the visit between its hash and the insert.
        Participant.objects.select_for_update().get(pk=participant.pk)
        list(
            InstrumentResponse.objects.select_for_update()
            .filter(participant=participant, timepoint=timepoint)
            .values_list("id", flat=True)
        )
        if not selectors.visit_is_complete(participant, timepoint):
            raise Conflict(_("The visit is not complete: every form must be complete first."))
        content = canonical.visit_content(participant, timepoint)
        return _create(
            subject=Subject.VISIT,
            participant=participant,
            timepoint=timepoint,
            signer=user,
            signer_name=_full_name(user),
            signer_role=Role.INVESTIGATOR,
            meaning=meaning,
            signed_at=timezone.now(),
            content_sha256=canonical.sha256_of(content),
            manifest={"forms": canonical.visit_manifest(content)},
        )


def _current_lock() -> DatasetLock:
    lock = current_lock()
    if lock is None or lock.level != DatasetLock.Level.LOCK:
        raise Conflict(_("Only a locked database is signed (the lock, the masking key's release)."))
    return lock


def lock_sign(*, request: HttpRequest, user: Any, password: str, otp: str = "") -> Signature:
    """The data manager signs the current lock: the lock row and every form's version."""
    if not access.has_role(user, SIGNERS[Subject.LOCK]):
        raise Forbidden(_("Only data managers sign the lock."))
    _current_lock()  # 409 before any credential is checked; again in the transaction
    reauthenticate(request=request, user=user, password=password, otp=otp)
    with transaction.atomic(), audit_context(user=user, reason="Signed: locked"):
        lock = _current_lock()
        content = canonical.lock_content(lock)
        return _create(
            subject=Subject.LOCK,
            dataset_lock=lock,
            signer=user,
            signer_name=_full_name(user),
            signer_role=Role.DATA_MANAGER,
            meaning=Meaning.LOCKED,
            signed_at=timezone.now(),
            content_sha256=canonical.sha256_of(content),
            manifest={"lock": content["lock"], "responses": len(content["responses"])},
        )


def masking_key_release_sign(
    *, request: HttpRequest, user: Any, key_created_at: Any, password: str, otp: str = ""
) -> Signature:
    """The statistician signs the release of the masking key under the current lock (the
    exports app asks for it before it shows the key)."""
    if not access.has_role(user, SIGNERS[Subject.MASKING_KEY]) or access.is_blinded(user):
        raise Forbidden(_("Only the trial statistician signs the masking key's release."))
    _current_lock()
    reauthenticate(request=request, user=user, password=password, otp=otp)
    with transaction.atomic(), audit_context(user=user, reason="Signed: masking key released"):
        lock = _current_lock()
        content = canonical.key_release_content(lock, key_created_at)
        return _create(
            subject=Subject.MASKING_KEY,
            dataset_lock=lock,
            signer=user,
            signer_name=_full_name(user),
            signer_role=Role.STATISTICIAN,
            meaning=Meaning.KEY_RELEASED,
            signed_at=timezone.now(),
            content_sha256=canonical.sha256_of(content),
            manifest=content,
        )


def masking_key_release_signature() -> Signature | None:
    """The signature of the key's release under the current lock, if it was signed."""
    lock = current_lock()
    if lock is None or lock.level != DatasetLock.Level.LOCK:
        return None
    return Signature.objects.filter(subject=Subject.MASKING_KEY, dataset_lock=lock).first()
