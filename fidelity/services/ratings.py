"""IMR Fidelity Scale ratings: two independent raters, then their consensus."""

from __future__ import annotations

from datetime import date
from typing import Any, cast

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fidelity import permissions, scale
from fidelity.models import (
    INDEPENDENT_KINDS,
    FidelityRating,
    FidelityTimepoint,
    ImrGroup,
    RaterKind,
)
from fidelity.services.groups import UNSET
from trial import access
from trial.access import Viewer
from trial.audit import audit_context
from trial.errors import Conflict, Forbidden, Invalid


def _clean(items: Any, rated_on: date | None) -> tuple[dict[str, int], dict[str, Any]]:
    cleaned, item_errors = scale.clean_items(items)
    # A non-object gives {"items": [...]}; bad items give {"FID_3": [...], ...}, one message
    # per item at the top level, as API.md's field errors and the assessment forms have them.
    errors: dict[str, Any] = dict(item_errors)
    if rated_on is not None and rated_on > timezone.localdate():
        errors["rated_on"] = [_("The assessment date cannot be in the future.")]
    return cleaned, errors


def _raise(errors: dict[str, Any]) -> None:
    if errors:
        raise Invalid(_("The rating has errors."), fields=cast(dict[str, list[str]], errors))


def rating_submit(
    *,
    user: Viewer,
    group: ImrGroup,
    timepoint: str,
    rater_kind: str,
    items: Any,
    rated_on: date | None = None,
    notes: str = "",
) -> FidelityRating:
    """Submit an independent rating (rater 1 or rater 2) or, once both are in, the consensus.

    The answers never contain the other rater's values: a refusal says only that a slot is
    taken or that the consensus must wait, which the rater needs to know anyway."""
    permissions.require_role(user, permissions.RATERS, _("enter fidelity ratings"))
    errors: dict[str, Any] = {}
    if timepoint not in FidelityTimepoint.values:
        errors["timepoint"] = [_("Use 'midway' or 'end'.")]
    if rater_kind not in RaterKind.values:
        errors["rater_kind"] = [_("Use 'rater1', 'rater2' or 'consensus'.")]
    cleaned, item_errors = _clean(items, rated_on)
    errors.update(item_errors)
    _raise(errors)

    label = f"Fidelity rating ({RaterKind(rater_kind).label.lower()})"
    with transaction.atomic(), audit_context(user=user, reason=label):
        # One group's ratings are written one at a time: the "both in" check below and the
        # visibility it unlocks cannot race a submission of the other rater.
        ImrGroup.objects.select_for_update().get(pk=group.pk)
        existing = {
            r.rater_kind: r for r in FidelityRating.objects.filter(group=group, timepoint=timepoint)
        }
        when = FidelityTimepoint(timepoint).label.lower()
        if rater_kind in INDEPENDENT_KINDS:
            mine = next(
                (k for k in INDEPENDENT_KINDS if k in existing and existing[k].rater_id == user.pk),
                None,
            )
            if mine == rater_kind:
                raise Conflict(
                    _(
                        "You have already submitted your rating of {name} ({when}); correct it "
                        "instead."
                    ).format(
                        name=group.name,
                        when=when,
                    )
                )
            if mine is not None:
                raise Invalid(
                    _("The two independent ratings come from two different raters."),
                    fields={
                        "rater_kind": [
                            _(
                                "You are {RaterKind} for {name} ({when}); the other rating must "
                                "come from another rater."
                            ).format(
                                RaterKind=RaterKind(mine).label.lower(),
                                name=group.name,
                                when=when,
                            )
                        ]
                    },
                )
            if rater_kind in existing:
                raise Conflict(
                    _(
                        "{RaterKind} has already rated {name} ({when}); submit as the other rater."
                    ).format(
                        RaterKind=RaterKind(rater_kind).label,
                        name=group.name,
                        when=when,
                    )
                )
        else:
            if not all(kind in existing for kind in INDEPENDENT_KINDS):
                # Not yet possible, like randomising someone not yet consented (API.md: 400).
                message = (
                    "The consensus rating can be entered only after both raters have "
                    "submitted their independent ratings."
                )
                raise Invalid(message, fields={"rater_kind": [message]})
            if RaterKind.CONSENSUS in existing:
                raise Conflict(
                    _("The consensus for {name} ({when}) is already entered.").format(
                        name=group.name,
                        when=when,
                    )
                )
        return FidelityRating.objects.create(
            group=group,
            timepoint=timepoint,
            rater_kind=rater_kind,
            rater=access.signed_in(user),
            items=cleaned,
            rated_on=rated_on or timezone.localdate(),
            notes=(notes or "").strip(),
        )


def rating_correct(
    *,
    user: Viewer,
    rating: FidelityRating,
    items: Any = UNSET,
    rated_on: Any = UNSET,
    notes: Any = UNSET,
    reason: str,
) -> FidelityRating:
    """Correct a submitted rating, with a reason. An independent rating can be corrected only
    by its author and only while the other independent rating is not in (after that, the
    raters' differences are resolved in the consensus); the consensus by any fidelity rater."""
    permissions.require_role(user, permissions.RATERS, _("correct fidelity ratings"))
    errors: dict[str, Any] = {}
    if not (reason or "").strip():
        errors["reason"] = [_("A submitted rating is changed only with a reason.")]
    cleaned: dict[str, int] | None = None
    if items is not UNSET:
        cleaned, item_errors = _clean(items, rated_on if rated_on is not UNSET else None)
        errors.update(item_errors)
    elif rated_on is not UNSET:
        errors.update(_clean(rating.items, rated_on)[1])
    _raise(errors)

    with transaction.atomic(), audit_context(user=user, reason=reason.strip()):
        ImrGroup.objects.select_for_update().get(pk=rating.group_id)
        locked = FidelityRating.objects.select_for_update().get(pk=rating.pk)
        if locked.rater_kind in INDEPENDENT_KINDS:
            if locked.rater_id != user.pk:
                raise Forbidden(
                    _("Only the rater who submitted an independent rating can correct it.")
                )
            other = RaterKind.RATER2 if locked.rater_kind == RaterKind.RATER1 else RaterKind.RATER1
            if FidelityRating.objects.filter(
                group_id=locked.group_id, timepoint=locked.timepoint, rater_kind=other
            ).exists():
                raise Invalid(
                    _("Both independent ratings are in; differences are settled in the consensus.")
                )
        fields = []
        if cleaned is not None and cleaned != locked.items:
            locked.items = cleaned
            fields.append("items")
        if rated_on is not UNSET and rated_on != locked.rated_on:
            locked.rated_on = rated_on
            fields.append("rated_on")
        if notes is not UNSET and (notes or "").strip() != locked.notes:
            locked.notes = (notes or "").strip()
            fields.append("notes")
        if fields:
            locked.save(update_fields=[*fields, "updated_at"])
    rating.refresh_from_db()
    return rating
