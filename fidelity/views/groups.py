"""Group pages: the list (with today's sessions), a group with its members and schedule,
creating and editing groups, adding and removing members."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from fidelity import exposure, forms, permissions, selectors, services
from fidelity.models import ImrGroup, SessionStatus
from fidelity.services.sessions import months_after, weekly_plan
from fidelity.views.common import run_for_form, run_for_message, unblinded_page
from trial import access, paging
from trial.errors import Forbidden
from trial.selectors import lock_level


@unblinded_page
def group_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    site = request.GET.get("site", "")
    page, pager = paging.paginate(request, selectors.group_list(user=user, site=site))
    manager_sites = selectors.sites_for_groups(user, permissions.GROUP_MANAGERS)
    return render(
        request,
        "fidelity/groups.html",
        {
            "groups": page.object_list,
            "pager": pager,
            "today": selectors.todays_sessions(user),
            "sites": selectors.sites_for_groups(user),
            "site": site,
            # Nothing is offered that the freeze or lock would refuse (the banner says why).
            "may_create": bool(manager_sites) and lock_level() == "open",
            "may_see_exposure": access.has_role(user, *permissions.MEMBER_READERS),
        },
    )


def _instructor_choices(sites: list[Any]) -> Any:
    from django.contrib.auth import get_user_model

    ids: set[int] = set()
    for site in sites:
        ids.update(selectors.instructors_at(site).values_list("pk", flat=True))
    return get_user_model().objects.filter(pk__in=ids).order_by("username")


@unblinded_page
def group_create(request: HttpRequest) -> HttpResponse:
    sites = selectors.sites_for_groups(request.user, permissions.GROUP_MANAGERS)
    if not sites:
        raise Forbidden(_("Only coordinators and instructors create IMR groups."))
    form = forms.GroupForm(
        request.POST or None, sites=sites, instructors=_instructor_choices(sites)
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            done, group = run_for_form(
                form,
                lambda: services.group_create(
                    user=request.user,
                    site_code=data["site"],
                    name=data["name"],
                    start_date=data["start_date"],
                    capacity=data["capacity"],
                    instructors=[u.pk for u in data["instructors"]],
                ),
            )
            if done:
                messages.success(request, _("Group {name} created.").format(name=group.name))
                return redirect("fidelity:group", pk=group.pk)
        status = 400
    return render(
        request, "fidelity/group_form.html", {"form": form, "creating": True}, status=status
    )


def _render_detail(
    request: HttpRequest,
    group: ImrGroup,
    *,
    member_form: forms.MemberAddForm | None = None,
    session_form: forms.SessionForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    entry_open = lock_level() == "open"
    may_manage = entry_open and permissions.may_manage_groups(user, group.site_id)
    may_plan = entry_open and permissions.may_plan_sessions(user, group.site_id)
    read_members = permissions.may_read_members(user, group.site_id)
    sessions = list(selectors.sessions_of(group))
    context: dict[str, Any] = {
        "group": group,
        "sessions": sessions,
        "planned_end": months_after(group.start_date, 9),
        "may_manage": may_manage,
        "may_plan": may_plan,
        "may_record": entry_open and permissions.may_record_attendance(user, group.site_id),
        "may_read_members": read_members,
        "may_rate": permissions.may_read_fidelity(user),
        "today": timezone.localdate(),
    }
    if read_members:
        context["members"] = selectors.member_rows(group)
        rows = selectors.exposure_rows(user=user, group=group)
        context["summaries"] = [exposure.summarise(group.name, rows)]
    if may_manage:
        candidates = selectors.candidates_for(group)
        context["member_form"] = member_form or forms.MemberAddForm(candidates=candidates)
        context["has_candidates"] = candidates.exists()
        context["can_add_member"] = (
            not group.enrolment_closed and getattr(group, "member_count", 0) < group.capacity
        )
    if may_plan:
        held = [s for s in sessions if s.status != SessionStatus.CANCELLED]
        last = held[-1] if held else None
        initial = {
            "date": (last.date + timedelta(weeks=1)) if last else group.start_date,
            "module": last.module if last else 1,
        }
        context["session_form"] = session_form or forms.SessionForm(initial=initial)
        context["schedule_weeks"] = len(weekly_plan(group.start_date))
        context["may_replace_schedule"] = bool(sessions) and not any(
            s.status == SessionStatus.HELD for s in sessions
        )
    return render(request, "fidelity/group.html", context, status=status)


@unblinded_page
def group_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_detail(request, selectors.group_get(user=request.user, pk=pk))


@unblinded_page
def group_edit(request: HttpRequest, pk: int) -> HttpResponse:
    group = selectors.group_get(user=request.user, pk=pk)
    permissions.require_role_at(
        request.user, group.site, permissions.GROUP_MANAGERS, "change IMR groups"
    )
    initial = {
        "name": group.name,
        "start_date": group.start_date,
        "capacity": group.capacity,
        "instructors": list(group.instructors.all()),
        "enrolment_closed": group.enrolment_closed,
    }
    form = forms.GroupEditForm(
        request.POST or None,
        initial=initial,
        sites=[group.site],
        instructors=selectors.instructors_at(group.site),
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            done, _outcome = run_for_form(
                form,
                lambda: services.group_update(
                    user=request.user,
                    group=group,
                    name=data["name"],
                    start_date=data["start_date"],
                    capacity=data["capacity"],
                    enrolment_closed=data["enrolment_closed"],
                    instructors=[u.pk for u in data["instructors"]],
                    reason=data["reason"],
                ),
            )
            if done:
                messages.success(request, _("Group saved."))
                return redirect("fidelity:group", pk=group.pk)
        status = 400
    return render(
        request, "fidelity/group_form.html", {"form": form, "group": group}, status=status
    )


@unblinded_page
@require_POST
def member_add(request: HttpRequest, pk: int) -> HttpResponse:
    group = selectors.group_get(user=request.user, pk=pk)
    permissions.require_role_at(
        request.user, group.site, permissions.GROUP_MANAGERS, "add members to IMR groups"
    )
    form = forms.MemberAddForm(request.POST, candidates=selectors.candidates_for(group))
    if form.is_valid():
        done, membership = run_for_form(
            form,
            lambda: services.membership_add(
                user=request.user, group=group, participant_id=form.cleaned_data["participant"]
            ),
        )
        if done:
            messages.success(
                request,
                _("{study_id} joined {name}.").format(
                    study_id=membership.participant.study_id, name=group.name
                ),
            )
            return redirect("fidelity:group", pk=group.pk)
    return _render_detail(request, group, member_form=form, status=400)


@unblinded_page
@require_POST
def member_remove(request: HttpRequest, pk: int, participant_id: int) -> HttpResponse:
    group = selectors.group_get(user=request.user, pk=pk)
    reason = forms.MemberRemoveForm(request.POST).data.get("reason", "")
    run_for_message(
        request,
        lambda: services.membership_remove(
            user=request.user, group=group, participant_id=participant_id, reason=reason
        ),
        "Member removed.",
    )
    return redirect("fidelity:group", pk=group.pk)
