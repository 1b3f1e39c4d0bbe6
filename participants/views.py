"""Pages for coordinators and everyone who looks participants up."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from imrtrial import access
from imrtrial.errors import Forbidden, TrialError
from imrtrial.roles import Role
from participants import selectors, services
from participants.forms import RegistrationForm
from participants.models import Status
from randomization.selectors import allocation_fields


def _require_reader(request: HttpRequest) -> None:
    if not access.has_role(request.user, *selectors.PARTICIPANT_READERS):
        raise Forbidden("Your role does not give access to participants.")


@login_required
def participant_list(request: HttpRequest) -> HttpResponse:
    _require_reader(request)
    site = request.GET.get("site", "")
    status = request.GET.get("status", "")
    search = request.GET.get("q", "")
    participants = selectors.participant_list(
        user=request.user, site=site, status=status, search=search
    )
    return render(
        request,
        "participants/list.html",
        {
            "participants": participants,
            "sites": selectors.sites_visible_to(request.user),
            "statuses": Status.choices,
            "filters": {"site": site, "status": status, "q": search},
            "can_register": access.has_role(request.user, Role.COORDINATOR),
        },
    )


@login_required
def participant_register(request: HttpRequest) -> HttpResponse:
    sites = selectors.sites_visible_to(request.user).filter(
        pk__in=access.site_ids(request.user, Role.COORDINATOR)
    )
    if not sites.exists():
        raise Forbidden("Only coordinators register participants.")
    form = RegistrationForm(request.POST or None, sites=sites)
    if request.method == "POST" and form.is_valid():
        try:
            participant = services.participant_register(
                user=request.user,
                site_code=form.cleaned_data["site"].code,
                cpr=form.cleaned_data["cpr"],
                sex=form.cleaned_data["sex"],
            )
        except TrialError as error:
            for field, messages in (error.fields or {"__all__": [error.message]}).items():
                for message in messages:
                    form.add_error(field if field in form.fields else None, message)
        else:
            return redirect("participants:overview", pk=participant.pk)
    return render(request, "participants/register.html", {"form": form})


@login_required
def participant_overview(request: HttpRequest, pk: int) -> HttpResponse:
    _require_reader(request)
    participant = selectors.participant_get(user=request.user, pk=pk)
    return render(
        request,
        "participants/overview.html",
        {
            "participant": participant,
            "screenings": participant.screenings.all(),
            "allocation": allocation_fields(participant, request.user),
        },
    )
