"""Fidelity pages: the overview of groups and their ratings, and one group's rating at one
timepoint. The page of a rater shows only their own rating until both are in: the other
rater's values are not in the HTML at all (not hidden, not prefilled, not counted)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fidelity import forms, permissions, scale, selectors, services
from fidelity.models import INDEPENDENT_KINDS, FidelityTimepoint, RaterKind
from fidelity.views.common import run_for_form, unblinded_page
from trial import paging


@unblinded_page
def rating_overview(request: HttpRequest) -> HttpResponse:
    permissions.require_role(request.user, permissions.FIDELITY_READERS, _("see fidelity ratings"))
    # The groups' rows a page at a time (the per-site figures above them cover every group);
    # each row shows every rating the user may see, read once for the page.
    page, pager = paging.paginate(request, selectors.groups_visible_to(request.user))
    groups = list(page.object_list)
    assessments = selectors.fidelity_assessments(user=request.user, groups=groups)
    rows = [
        {
            "group": group,
            "assessments": [assessments[(group.pk, t)] for t in FidelityTimepoint.values],
        }
        for group in groups
    ]
    return render(
        request,
        "fidelity/ratings.html",
        {
            "rows": rows,
            "pager": pager,
            "sites": selectors.site_fidelity(user=request.user),
            "may_rate": permissions.may_rate(request.user),
        },
    )


def _initial_items(rating: Any) -> dict[str, Any]:
    return dict(rating.items) if rating is not None else {}


@unblinded_page
def rating_form(request: HttpRequest, pk: int, timepoint: str) -> HttpResponse:
    if timepoint not in FidelityTimepoint.values:
        raise Http404
    user = request.user
    permissions.require_role(user, permissions.FIDELITY_READERS, _("see fidelity ratings"))
    group = selectors.group_get(user=user, pk=pk)
    assessment = selectors.fidelity_assessment(user=user, group=group, timepoint=timepoint)
    mine = assessment.visible.get(assessment.my_kind) if assessment.my_kind else None
    other_kind = next((k for k in INDEPENDENT_KINDS if k != assessment.my_kind), None)

    # What this user may write now: their independent rating, a correction of it while the
    # other is not in, or the consensus (new, or a correction) once both are in.
    mode = ""
    if permissions.may_rate(user):
        if assessment.consensus is not None and assessment.both_in:
            mode = "correct_consensus"
        elif RaterKind.CONSENSUS in assessment.open_kinds:
            mode = "consensus"
        elif mine is not None and not assessment.both_in:
            mode = "correct_mine"
        elif assessment.my_kind is None and any(
            k in assessment.open_kinds for k in INDEPENDENT_KINDS
        ):
            mode = "independent"

    kinds = [k for k in assessment.open_kinds if k in INDEPENDENT_KINDS]
    correcting = mode in ("correct_mine", "correct_consensus")
    target = mine if mode == "correct_mine" else assessment.consensus
    if mode == "consensus":
        # Agreed items start filled in, discrepant ones empty: the raters settle those.
        r1, r2 = assessment.visible[RaterKind.RATER1], assessment.visible[RaterKind.RATER2]
        assert r1 is not None and r2 is not None  # both are in, so both are visible to a rater
        initial_items = {
            code: r1.items[code] for code in scale.ITEM_CODES if r1.items[code] == r2.items[code]
        }
        kinds = [RaterKind.CONSENSUS]
    else:
        initial_items = _initial_items(target) if correcting else {}
    initial = {
        "rated_on": target.rated_on if correcting and target else timezone.localdate(),
        "notes": target.notes if correcting and target else "",
        **initial_items,
    }
    form = (
        forms.RatingForm(request.POST or None, initial=initial, kinds=kinds, correcting=correcting)
        if mode
        else None
    )
    status = 200
    if form is not None and request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data

            def save() -> Any:
                if correcting:
                    assert target is not None
                    return services.rating_correct(
                        user=user,
                        rating=target,
                        items=form.items(),
                        rated_on=data["rated_on"],
                        notes=data["notes"],
                        reason=data["reason"],
                    )
                return services.rating_submit(
                    user=user,
                    group=group,
                    timepoint=timepoint,
                    rater_kind=data["rater_kind"],
                    items=form.items(),
                    rated_on=data["rated_on"],
                    notes=data["notes"],
                )

            done, _outcome = run_for_form(form, save)
            if done:
                messages.success(request, _("Rating saved."))
                return redirect("fidelity:rating", pk=group.pk, timepoint=timepoint)
        status = 400
    elif request.method == "POST":
        status = 405

    comparison = []
    r1, r2 = assessment.visible[RaterKind.RATER1], assessment.visible[RaterKind.RATER2]
    if r1 is not None and r2 is not None:
        consensus = assessment.consensus
        comparison = [
            {
                "item": item,
                "rater1": r1.items[item.code],
                "rater2": r2.items[item.code],
                "consensus": consensus.items[item.code] if consensus else None,
                "differs": r1.items[item.code] != r2.items[item.code],
            }
            for item in scale.ITEMS
        ]
    return render(
        request,
        "fidelity/rating.html",
        {
            "group": group,
            "assessment": assessment,
            "mine": mine,
            "other_kind": other_kind,
            "comparison": comparison,
            "discrepant": {d.item for d in assessment.discrepancies},
            "form": form,
            "mode": mode,
            "anchors": scale.ANCHORS,
        },
        status=status,
    )
