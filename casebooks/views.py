"""Pages and downloads: printed CRFs (blank, filled, a visit, a casebook), the investigator's
worklist and signing page, and the data manager's list of broken signatures. Every download
checks role and site (the selectors answer 404 outside the user's sites) and leaves out the
forms the user may not read."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from assessments import permissions as assessment_permissions
from assessments import selectors as assessment_selectors
from assessments.models import InstrumentResponse, Timepoint
from casebooks import permissions, printing, selectors, services
from casebooks.models import Meaning
from instruments import registry
from participants.models import Participant
from trial import access
from trial.errors import Forbidden, NotFound, TrialError
from trial.selectors import lock_level

TEMPLATE = "casebooks/print.html"


def _pdf(request: HttpRequest, data: dict[str, Any], filename: str) -> HttpResponse:
    response = HttpResponse(
        printing.render_pdf(request, TEMPLATE, data), content_type="application/pdf"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    # A CRF holds health data: never kept by a shared cache or the browser's.
    response["Cache-Control"] = "no-store"
    return response


def _participant(request: HttpRequest, pk: int) -> Participant:
    if not access.has_role(request.user, *permissions.PRINTERS):
        raise Forbidden(_("Your role does not give access to printed forms."))
    return selectors.participant_get(user=request.user, pk=pk)


@login_required
@require_GET
def blank_form(request: HttpRequest, code: str) -> HttpResponse:
    """A blank form of an instrument, for an interview on paper."""
    instrument = assessment_selectors.form_instrument(code, _any_timepoint(code))
    if not permissions.may_print_blank(request.user, instrument):
        raise Forbidden(_("Your role does not print this form."))
    visit = printing.PrintedVisit("", "", [printing.printed_form(instrument)])
    title = f"{instrument.short_name} – {_('blank form')}"
    data = printing.context(title=title, visits=[visit], user=request.user)
    return _pdf(request, data, f"{instrument.code}-blank.pdf")


def _any_timepoint(code: str) -> str:
    found = registry.find((code or "").strip().upper())
    if found is None or not found.timepoints:
        raise NotFound(_("Unknown instrument."))
    return found.timepoints[0]


@login_required
@require_GET
def participant_form(request: HttpRequest, pk: int, timepoint: str, code: str) -> HttpResponse:
    """One form of a participant's visit: filled when saved, else blank with the study ID and
    the visit filled in (`?blank=1` prints it blank in any case)."""
    participant = _participant(request, pk)
    timepoint = assessment_selectors.parse_timepoint(timepoint)
    instrument = assessment_selectors.form_instrument(code, timepoint)
    if not assessment_permissions.may_read_values(request.user, participant.site_id, instrument):
        raise Forbidden(
            _(
                "This form is rated by the participant's own clinician; "
                "blinded staff cannot print it."
            )
        )
    response = None
    if request.GET.get("blank") != "1":
        response = (
            InstrumentResponse.objects.filter(
                participant=participant, timepoint=timepoint, instrument=instrument.code
            )
            .select_related("rater", "verified_by", "participant")
            .first()
        )
    label = str(Timepoint(timepoint).label)
    visit = printing.PrintedVisit(
        timepoint,
        label,
        [printing.printed_form(instrument, participant=participant, response=response)],
        selectors.signatures_for(request.user, participant).get(timepoint, [])
        if response is not None
        else [],
    )
    title = f"{participant.study_id} · {label} · {instrument.short_name}"
    data = printing.context(title=title, visits=[visit], user=request.user, participant=participant)
    kind = "filled" if response is not None else "blank"
    return _pdf(request, data, f"{participant.study_id}-{timepoint}-{instrument.code}-{kind}.pdf")


@login_required
@require_GET
def participant_visit(request: HttpRequest, pk: int, timepoint: str) -> HttpResponse:
    """The saved forms of one visit the user may read, with its signatures; the forms not
    entered are named (their blank CRFs are printed one by one)."""
    participant = _participant(request, pk)
    timepoint = assessment_selectors.parse_timepoint(timepoint)
    visit = printing.visit(request.user, participant, timepoint, filled=True).entered_only()
    title = f"{participant.study_id} · {visit.label}"
    data = printing.context(title=title, visits=[visit], user=request.user, participant=participant)
    return _pdf(request, data, f"{participant.study_id}-{timepoint}.pdf")


@login_required
@require_GET
def casebook(request: HttpRequest, pk: int) -> HttpResponse:
    """The participant's casebook: every visit, for data managers, monitors and the site's
    investigator. Blinded readers' casebooks leave out the forms they may not read."""
    participant = _participant(request, pk)
    if not permissions.may_read_casebook(request.user, participant.site_id):
        raise Forbidden(_("Casebooks are printed by data managers, monitors and investigators."))
    visits = [
        printing.visit(request.user, participant, timepoint, filled=True).entered_only()
        for timepoint in Timepoint.values
    ]
    title = f"{participant.study_id} · {_('casebook')}"
    data = printing.context(title=title, visits=visits, user=request.user, participant=participant)
    return _pdf(request, data, f"{participant.study_id}-casebook.pdf")


# -- signatures ----------------------------------------------------------------------------------
@login_required
def worklist(request: HttpRequest) -> HttpResponse:
    """The investigator's visits to sign: complete and verified, no intact signature. Only
    unblinded users are offered it (trial.navigation): for blinded ones (and admins, who hold
    no trial role) the page does not exist (404), as for the other unblinded-only pages."""
    if access.is_blinded(request.user):
        raise Http404
    if not permissions.may_sign_visits_anywhere(request.user):
        raise Forbidden(_("The signing worklist is the principal investigator's."))
    return render(
        request,
        "casebooks/worklist.html",
        {"rows": selectors.unsigned_visits(user=request.user), "lock_level": lock_level()},
    )


@login_required
def sign_visit(request: HttpRequest, pk: int, timepoint: str) -> HttpResponse:
    """Review a visit's signatures and sign it (password, and the code for two-factor roles)."""
    participant = _participant(request, pk)
    timepoint = assessment_selectors.parse_timepoint(timepoint)
    if not permissions.may_sign_visit(request.user, participant.site_id):
        raise Forbidden(_("Only the site's principal investigator signs its participants' visits."))
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        try:
            services.visit_sign(
                request=request,
                user=request.user,
                participant=participant,
                timepoint=timepoint,
                meaning=request.POST.get("meaning", ""),
                password=request.POST.get("password", ""),
                otp=request.POST.get("otp", ""),
            )
        except TrialError as error:
            status = error.status
            errors = dict(error.fields or {"__all__": [error.message]})
        else:
            messages.success(request, _("Signed."))
            return redirect("casebooks:sign", pk=participant.pk, timepoint=timepoint)
    visit = printing.visit(request.user, participant, timepoint, filled=True)
    return render(
        request,
        "casebooks/sign.html",
        {
            "participant": participant,
            "timepoint": timepoint,
            "visit": visit,
            "complete": selectors.visit_is_complete(participant, timepoint),
            "meanings": [(m.value, m.label) for m in (Meaning.REVIEWED,)],
            "two_factor": access.needs_two_factor(request.user),
            "errors": errors,
            "lock_level": lock_level(),
        },
        status=status,
    )


@login_required
def broken(request: HttpRequest) -> HttpResponse:
    if not permissions.may_see_broken_list(request.user):
        raise Forbidden(_("The list of broken signatures is the data manager's."))
    return render(request, "casebooks/broken.html", {"rows": selectors.broken_signatures()})


def visit_panel(request: HttpRequest, participant: Participant, timepoint: str) -> str:
    """The signature slot of the assessment page's visit (assessments.contributions)."""
    if not access.has_role_at(request.user, participant.site_id, *permissions.SIGNATURE_READERS):
        return ""
    states = selectors.visit_signature_states(participant).get(timepoint, [])
    return render_to_string(
        "casebooks/_visit_panel.html",
        {
            "participant": participant,
            "timepoint": timepoint,
            "states": states,
            "may_sign": permissions.may_sign_visit(request.user, participant.site_id),
            "may_casebook": permissions.may_read_casebook(request.user, participant.site_id),
        },
        request=request,
    )
