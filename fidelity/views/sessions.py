"""Session pages: attendance (the instructor's page, on a phone as well as a laptop), editing
and cancelling sessions, generating the schedule, and the exposure overview."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from fidelity import forms, permissions, selectors, services
from fidelity.models import GroupSession, SessionStatus
from fidelity.services.groups import UNSET
from fidelity.services.sessions import weekly_plan
from fidelity.views.common import is_htmx, run_for_form, run_for_message, unblinded_page
from fidelity.views.groups import _render_detail
from trial import paging
from trial.errors import Forbidden, Invalid, TrialError, from_database_error
from trial.inputs import digits, whole_number
from trial.selectors import lock_level


@unblinded_page
@require_POST
def session_add(request: HttpRequest, pk: int) -> HttpResponse:
    group = selectors.group_get(user=request.user, pk=pk)
    permissions.require_role_at(
        request.user, group.site, permissions.SESSION_PLANNERS, "plan sessions"
    )
    form = forms.SessionForm(request.POST)
    if form.is_valid():
        done, session = run_for_form(
            form,
            lambda: services.session_add(
                user=request.user,
                group=group,
                date=form.cleaned_data["date"],
                module=form.cleaned_data["module"],
            ),
        )
        if done:
            messages.success(
                request, _("Session on {date:%Y-%m-%d} added.").format(date=session.date)
            )
            return redirect("fidelity:group", pk=group.pk)
    return _render_detail(request, group, session_form=form, status=400)


@unblinded_page
@require_POST
def schedule_generate(request: HttpRequest, pk: int) -> HttpResponse:
    group = selectors.group_get(user=request.user, pk=pk)
    form = forms.ScheduleForm(request.POST)
    form.is_valid()
    weeks = len(weekly_plan(group.start_date))
    run_for_message(
        request,
        lambda: services.schedule_generate(
            user=request.user, group=group, replace=bool(form.cleaned_data.get("replace"))
        ),
        # The date's format is the translation's (dd-mm-åååå in Danish).
        ngettext(
            "{weeks} weekly session planned from {date:%Y-%m-%d}.",
            "{weeks} weekly sessions planned from {date:%Y-%m-%d}.",
            weeks,
        ).format(weeks=weeks, date=group.start_date),
    )
    return redirect("fidelity:group", pk=group.pk)


def _attendance_context(
    request: HttpRequest,
    session: GroupSession,
    *,
    chosen: dict[int, str] | None = None,
    chosen_instructors: set[int] | None = None,
    error: TrialError | None = None,
    saved: str = "",
    reason: str = "",
) -> dict[str, Any]:
    site = session.group.site
    entry_open = lock_level() == "open"
    lines = selectors.attendance_sheet(session)
    rows = []
    for line in lines:
        # As posted; else as recorded; a member not recorded yet starts unmarked: the
        # instructor marks each one (or all present, then the absent ones), and a save with
        # someone unmarked is refused, so nobody is credited or debited by default.
        if chosen is not None:
            mark = chosen.get(line.participant.pk, "")
        elif line.present is None:
            mark = ""
        else:
            mark = "present" if line.present else "absent"
        rows.append({"line": line, "mark": mark, "present": mark == "present"})
    instructors = list(selectors.instructors_at(site))
    if chosen_instructors is None:
        recorded = {u.pk for u in session.instructors_present.all()}
        # Before anything is recorded, the group's own instructors are the likely ones.
        chosen_instructors = recorded or {u.pk for u in session.group.instructors.all()}
    return {
        "session": session,
        "group": session.group,
        "rows": rows,
        "present_count": sum(1 for row in rows if row["present"]),
        "instructors": instructors,
        "chosen_instructors": chosen_instructors,
        # Nothing is offered that the freeze or lock would refuse (the banner says why).
        "may_record": entry_open and permissions.may_record_attendance(request.user, site.pk),
        "may_plan": entry_open and permissions.may_plan_sessions(request.user, site.pk),
        "recorded": session.status == SessionStatus.HELD,
        "error": error,
        "saved": saved,
        "reason": reason,  # a refused correction keeps the reason typed for it
        "history": selectors.attendance_history(session),
    }


def _translate_db_refusal(service: Any) -> Any:
    """The database's own refusal (frozen or locked) as a trial error, so the htmx form shows it
    in place like any other refusal instead of an error page htmx would not swap in."""

    def call(**kwargs: Any) -> Any:
        try:
            return service(**kwargs)
        except DatabaseError as exc:
            error = from_database_error(exc)
            if error is None:
                raise
            raise error from exc

    return call


@unblinded_page
def session_attendance(request: HttpRequest, pk: int) -> HttpResponse:
    session = selectors.session_get(user=request.user, pk=pk)
    permissions.require_role_at(
        request.user, session.group.site, permissions.MEMBER_READERS, "see attendance"
    )
    template = "fidelity/_attendance_form.html" if is_htmx(request) else "fidelity/session.html"
    if request.method != "POST":
        return render(request, template, _attendance_context(request, session))
    if not permissions.may_record_attendance(request.user, session.group.site_id):
        raise Forbidden(_("Only the site's IMR instructors record attendance."))

    member_ids = [line.participant.pk for line in selectors.attendance_sheet(session)]
    chosen = {
        pid: mark if (mark := request.POST.get(f"p_{pid}", "")) in ("present", "absent") else ""
        for pid in member_ids
    }
    chosen_instructors = {int(v) for v in request.POST.getlist("instructors") if digits(v)}
    version = request.POST.get("version", "")
    correcting = session.status == SessionStatus.HELD
    try:
        unmarked = sum(1 for mark in chosen.values() if not mark)
        if unmarked:
            raise Invalid(
                ngettext(
                    "%(count)d member is not marked: mark everyone present or absent.",
                    "%(count)d members are not marked: mark everyone present or absent.",
                    unmarked,
                )
                % {"count": unmarked}
            )
        changed = _translate_db_refusal(services.attendance_record)(
            user=request.user,
            session=session,
            present=[pid for pid, mark in chosen.items() if mark == "present"],
            reason=request.POST.get("reason", ""),
            version=whole_number(version),
            instructors_present=sorted(chosen_instructors),
        )
    except TrialError as error:
        if error.status in (403, 404):
            raise
        context = _attendance_context(
            request,
            session,
            chosen=chosen,
            chosen_instructors=chosen_instructors,
            error=error,
            reason=request.POST.get("reason", ""),
        )
        # htmx swaps only successful answers: the form with its error comes back as 200.
        return render(request, template, context, status=200 if is_htmx(request) else error.status)
    present = sum(1 for mark in chosen.values() if mark == "present")
    note = f"Saved: {present} of {len(chosen)} present" + (
        f" ({changed} corrected)." if changed and correcting else "."
    )
    if is_htmx(request):
        session = selectors.session_get(user=request.user, pk=pk)
        return render(request, template, _attendance_context(request, session, saved=note))
    messages.success(request, note)
    return redirect("fidelity:session", pk=session.pk)


@unblinded_page
def session_edit(request: HttpRequest, pk: int) -> HttpResponse:
    session = selectors.session_get(user=request.user, pk=pk)
    site = session.group.site
    permissions.require_role_at(
        request.user, site, permissions.SESSION_PLANNERS, _("edit sessions")
    )
    instructors = selectors.instructors_at(site)
    initial = {
        "date": session.date,
        "module": session.module,
        "instructors_present": list(session.instructors_present.all()),
    }
    form = forms.SessionEditForm(request.POST or None, initial=initial, instructors=instructors)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            done, _outcome = run_for_form(
                form,
                lambda: services.session_update(
                    user=request.user,
                    session=session,
                    date=data["date"],
                    module=data["module"],
                    instructors_present=[u.pk for u in data["instructors_present"]]
                    if data["instructors_present"] or initial["instructors_present"]
                    else UNSET,
                    reason=data["reason"],
                ),
            )
            if done:
                messages.success(request, _("Session saved."))
                return redirect("fidelity:group", pk=session.group_id)
        status = 400
    return render(
        request,
        "fidelity/session_edit.html",
        {"session": session, "form": form, "cancel_form": forms.CancelForm()},
        status=status,
    )


@unblinded_page
@require_POST
def session_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    session = selectors.session_get(user=request.user, pk=pk)
    form = forms.CancelForm(request.POST)
    if not form.is_valid():
        # The reason could not be read (e.g. a NUL character): cancel nothing.
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect("fidelity:group", pk=session.group_id)
    run_for_message(
        request,
        lambda: services.session_cancel(
            user=request.user, session=session, reason=form.cleaned_data.get("reason", "")
        ),
        str(_("Session on {date:%Y-%m-%d} cancelled.")).format(date=session.date),
    )
    return redirect("fidelity:group", pk=session.group_id)


@unblinded_page
def exposure_overview(request: HttpRequest) -> HttpResponse:
    site = request.GET.get("site", "")
    report = selectors.exposure_report(user=request.user, site=site)
    # One page of each list: the groups' figures and the participants' rows.
    groups, groups_pager = paging.paginate(request, report.groups, param="groups_page")
    rows, rows_pager = paging.paginate(request, report.rows)
    return render(
        request,
        "fidelity/exposure.html",
        {
            "report": report,
            "groups": groups.object_list,
            "groups_pager": groups_pager,
            "rows": rows.object_list,
            "pager": rows_pager,
            # Per site, and all sites together when there are several.
            "site_summaries": report.sites
            + ([report.overall] if report.overall and len(report.sites) > 1 else []),
            "site": site,
            "sites": selectors.sites_for_groups(request.user, permissions.MEMBER_READERS),
        },
    )
