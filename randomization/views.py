"""Pages: the coordinator's randomisation (summary, confirm, result), the statistician's
allocation lists and log, unblinding reports, blinding guesses and the blinding index."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from participants import selectors as participant_selectors
from randomization import forms, permissions, selectors, services
from randomization.models import BlindingGuess, Guess, GuessTimepoint, RandomizationLogEntry
from randomization.services.blinding import TRIAL_MANAGERS
from randomization.services.lists import is_list_custodian
from trial import access, paging
from trial.errors import Forbidden, TrialError
from trial.roles import Role
from trial.selectors import lock_level


def _form_errors(form: Any, error: TrialError) -> None:
    for field, problems in (error.fields or {"__all__": [error.message]}).items():
        for problem in problems:
            form.add_error(field if field in form.fields else None, problem)


def statistician_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The list custodian only (services.lists.is_list_custodian). Blinded users get 404 (the
    page does not exist for them); other roles 403."""

    @wraps(view)
    @login_required
    @never_cache
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if is_list_custodian(user):
            return view(request, *args, **kwargs)
        if access.is_blinded(user):
            raise Http404
        raise Forbidden(_("Only a statistician can see this page."))

    return wrapped


# --- the coordinator's randomisation -----------------------------------------------------


@login_required
@never_cache
def randomize(request: HttpRequest, pk: int) -> HttpResponse:
    participant = participant_selectors.participant_get(user=request.user, pk=pk)
    if not permissions.may_randomize(request.user, participant):
        raise Forbidden(
            _("Only a coordinator at {name} (without a blinded role) randomises.").format(
                name=participant.site.name,
            )
        )
    if request.method != "POST" and selectors.allocation_of(participant) is not None:
        return redirect("randomization:result", pk=participant.pk)
    form = forms.ConfirmRandomizationForm(
        request.POST or None, initial={"token": secrets.token_urlsafe(24)}
    )
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            services.randomize(
                participant=participant,
                user=request.user,
                idempotency_key="form:" + form.cleaned_data["token"],
                channel="web",
            )
        except TrialError as error:
            _form_errors(form, error)
            status = error.status
        else:
            return redirect("randomization:result", pk=participant.pk)
    elif request.method == "POST":
        status = 400
    participant.refresh_from_db()
    return render(
        request,
        "randomization/randomize.html",
        {
            "participant": participant,
            "state": selectors.readiness(participant),
            "form": form,
            "already": selectors.allocation_of(participant) is not None,
        },
        status=status,
    )


@login_required
@never_cache
def result(request: HttpRequest, pk: int) -> HttpResponse:
    participant = participant_selectors.participant_get(user=request.user, pk=pk)
    try:
        allocation = selectors.randomization_result(participant=participant, user=request.user)
    except TrialError:
        if access.is_blinded(request.user):
            raise Http404 from None
        raise
    return render(
        request,
        "randomization/result.html",
        {
            "participant": participant,
            "allocation": allocation,
            "email": selectors.confirmation_email(allocation),
        },
    )


# --- allocation lists (statisticians) ----------------------------------------------------


def _lists_page(request: HttpRequest, status: int = 200, **context: Any) -> HttpResponse:
    defaults = {
        "overview": selectors.allocation_lists_overview(user=request.user),
        "generate_form": forms.GenerateForm(),
        "import_form": forms.ImportForm(),
        "verify_form": forms.VerifyForm(),
        "lock_level": lock_level(),
    }
    defaults.update(context)
    return render(request, "randomization/lists.html", defaults, status=status)


@statistician_page
def lists(request: HttpRequest) -> HttpResponse:
    return _lists_page(request)


@statistician_page
@require_POST
def generate(request: HttpRequest) -> HttpResponse:
    form = forms.GenerateForm(request.POST)
    if form.is_valid():
        try:
            created = services.allocation_lists_generate(
                per_site=form.cleaned_data["per_site"],
                site_codes=[site.code for site in form.cleaned_data["sites"]],
                user=request.user,
                extend=form.cleaned_data["extend"],
                reason=form.cleaned_data["reason"],
                channel="web",
            )
        except TrialError as error:
            _form_errors(form, error)
            return _lists_page(request, error.status, generate_form=form)
        for allocation_list in created:
            messages.success(
                request,
                _("{code} v{version} stored; SHA-256 {sha256}").format(
                    code=allocation_list.site.code,
                    version=allocation_list.version,
                    sha256=allocation_list.sha256,
                ),
            )
        return redirect("randomization:lists")
    return _lists_page(request, 400, generate_form=form)


def _read_upload(form: Any) -> tuple[bytes, str]:
    uploaded = form.cleaned_data["file"]
    return uploaded.read(), uploaded.name


@statistician_page
@require_POST
def import_list(request: HttpRequest) -> HttpResponse:
    form = forms.ImportForm(request.POST, request.FILES)
    if form.is_valid():
        data, name = _read_upload(form)
        try:
            created = services.allocation_list_import(
                data=data,
                user=request.user,
                extend=form.cleaned_data["extend"],
                reason=form.cleaned_data["reason"],
                channel="web",
                filename=name,
            )
        except TrialError as error:
            _form_errors(form, error)
            return _lists_page(request, error.status, import_form=form)
        for allocation_list in created:
            messages.success(
                request,
                _("{code} v{version} imported; SHA-256 {sha256}").format(
                    code=allocation_list.site.code,
                    version=allocation_list.version,
                    sha256=allocation_list.sha256,
                ),
            )
        return redirect("randomization:lists")
    return _lists_page(request, 400, import_form=form)


@statistician_page
@require_POST
def verify(request: HttpRequest) -> HttpResponse:
    form = forms.VerifyForm(request.POST, request.FILES)
    if not form.is_valid():
        return _lists_page(request, 400, verify_form=form)
    data, name = _read_upload(form)
    outcome = services.allocation_list_verify(
        data=data, user=request.user, channel="web", filename=name
    )
    return _lists_page(request, verification=outcome, verified_name=name)


@statistician_page
@require_POST
def download_csv(request: HttpRequest, pk: int) -> HttpResponse:
    allocation_list = services.allocation_list_get(user=request.user, pk=pk, channel="web")
    data = services.allocation_list_csv(
        allocation_list=allocation_list, user=request.user, channel="web"
    )
    response = HttpResponse(data, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="allocation_{allocation_list.site.code}_'
        f'v{allocation_list.version}.csv"'
    )
    response["X-Content-SHA256"] = allocation_list.sha256
    return response


@statistician_page
@require_POST
def download_seed(request: HttpRequest, pk: int) -> HttpResponse:
    allocation_list = services.allocation_list_get(user=request.user, pk=pk, channel="web")
    seed = services.allocation_list_seed(
        allocation_list=allocation_list, user=request.user, channel="web"
    )
    text = (
        f"site: {allocation_list.site.code}\nversion: {allocation_list.version}\n"
        f"algorithm: {allocation_list.parameters.get('algorithm', '')} "
        f"v{allocation_list.parameters.get('algorithm_version', '')}\n"
        f"first_block: {allocation_list.parameters.get('first_block', '')}\n"
        f"first_sequence: {allocation_list.first_sequence}\n"
        f"seed: {seed}\n"
        f"seed_commitment: {allocation_list.parameters.get('seed_commitment', '')}\n"
        f"list_sha256: {allocation_list.sha256}\n"
    )
    response = HttpResponse(text, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="seed_{allocation_list.site.code}_v{allocation_list.version}.txt"'
    )
    return response


@statistician_page
@require_POST
def download_package(request: HttpRequest) -> HttpResponse:
    data = services.trial_master_file_package(user=request.user, channel="web")
    response = HttpResponse(data, content_type="application/zip")
    response["Content-Disposition"] = 'attachment; filename="imr_allocation_lists.zip"'
    return response


@statistician_page
def log(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind", "")
    site = request.GET.get("site", "")
    entries = selectors.randomization_log(user=request.user, kind=kind, site=site)
    page = Paginator(entries, 100).get_page(request.GET.get("page"))
    return render(
        request,
        "randomization/log.html",
        {
            "page": page,
            "kinds": RandomizationLogEntry.Kind.choices,
            "sites": participant_selectors.sites_visible_to(request.user),
            "filters": {"kind": kind, "site": site},
        },
    )


@statistician_page
def blinding_index(request: HttpRequest) -> HttpResponse:
    if lock_level() != "lock":
        return render(request, "randomization/blinding_index.html", {"locked": False})
    report = selectors.blinding_index_report(user=request.user, channel="web")
    return render(request, "randomization/blinding_index.html", {"locked": True, "report": report})


@statistician_page
def methods(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "randomization/methods.html",
        {"sheet": selectors.methods_sheet(user=request.user, channel="web")},
    )


# --- unblinding reports ------------------------------------------------------------------


@login_required
def incidents(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not selectors.may_report_unblinding(user):
        raise Forbidden(_("Unblinding reports are for blinded staff and the trial managers."))
    for_others = access.has_role(user, *TRIAL_MANAGERS)
    participants = participant_selectors.participants_visible_to(user).order_by("study_id")
    form = forms.IncidentForm(
        request.POST or None, participants=participants, for_others=for_others
    )
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            services.unblinding_incident_report(
                user=user,
                learned_on=form.cleaned_data["learned_on"],
                how=form.cleaned_data["how"],
                description=form.cleaned_data["description"],
                participant=form.cleaned_data["participant"],
                person=form.cleaned_data.get("person"),
            )
        except TrialError as error:
            _form_errors(form, error)
            status = error.status
        else:
            messages.success(request, _("Thank you: the report is recorded."))
            return redirect("randomization:incidents")
    elif request.method == "POST":
        status = 400
    incidents_page, pager = paging.paginate(request, selectors.incidents_visible_to(user))
    return render(
        request,
        "randomization/incidents.html",
        {
            "form": form,
            "incidents": incidents_page.object_list,
            "pager": pager,
            "sees_all": for_others,
        },
        status=status,
    )


# --- blinding guesses --------------------------------------------------------------------


def _guess_panel_context(
    request: HttpRequest,
    participant: Any,
    timepoint: str,
    *,
    form: forms.BlindingGuessForm | None = None,
    saved: str = "",
    next_url: str = "",
) -> dict[str, Any] | None:
    """What the blinding-guess panel shows this user, or None when it shows nothing. Depends on
    the user's role, whether the participant is randomised and the recorded guess: never on
    the arm."""
    user = request.user
    if timepoint not in GuessTimepoint.values or selectors.allocation_of(participant) is None:
        return None
    may_record = access.has_role_at(user, participant.site_id, Role.ASSESSOR)
    if not may_record and not selectors.may_read_guesses(user, participant):
        return None
    current = (
        BlindingGuess.objects.select_related("assessor")
        .filter(participant=participant, timepoint=timepoint)
        .first()
    )
    open_for_entry = may_record and lock_level() == "open"
    if form is None and open_for_entry:
        form = forms.BlindingGuessForm(
            initial={"guess": current.guess} if current else None,
            auto_id=f"guess-{timepoint}-%s",
        )
    return {
        "participant": participant,
        "timepoint": timepoint,
        "timepoint_label": GuessTimepoint(timepoint).label,
        "current": current,
        "form": form if open_for_entry else None,
        "saved": saved,
        "next": next_url or f"{request.get_full_path()}#blinding-guess-{timepoint}",
    }


def blinding_guess_panel(request: HttpRequest, participant: Any, timepoint: str) -> str:
    """The assessor's blinding guess (IMR / TAU / don't know) in the post-intervention and
    follow-up sections of the assessments page (assessments.views' slot). Assessors at the
    participant's site record or correct it there; the roles that read guesses see it;
    everyone else, and anyone before randomisation, sees nothing."""
    context = _guess_panel_context(request, participant, timepoint)
    if context is None:
        return ""
    return render_to_string("randomization/_blinding_guess_panel.html", context, request=request)


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return ""


@login_required
def blinding_guess(request: HttpRequest, pk: int, timepoint: str) -> HttpResponse:
    participant = participant_selectors.participant_get(user=request.user, pk=pk)
    if timepoint not in GuessTimepoint.values:
        raise Http404
    if not access.has_role_at(request.user, participant.site_id, Role.ASSESSOR):
        raise Forbidden(_("Only an assessor at the participant's site records the blinding guess."))
    htmx = request.headers.get("HX-Request") == "true"
    try:
        current = selectors.blinding_guess_get(
            user=request.user, participant=participant, timepoint=timepoint
        )
    except TrialError:
        current = None
    form = forms.BlindingGuessForm(
        request.POST or None,
        initial={"guess": current.guess} if current else None,
        auto_id=f"guess-{timepoint}-%s" if htmx else "id_%s",
    )
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            _guess, created = services.blinding_guess_record(
                user=request.user,
                participant=participant,
                timepoint=timepoint,
                guess=form.cleaned_data["guess"],
                reason=form.cleaned_data["reason"],
            )
        except TrialError as error:
            _form_errors(form, error)
            status = error.status
        else:
            saved = "The blinding guess is recorded." if created else "The blinding guess is saved."
            if htmx:
                context = _guess_panel_context(
                    request, participant, timepoint, saved=saved, next_url=_safe_next(request)
                )
                return render(request, "randomization/_blinding_guess_panel.html", context)
            messages.success(request, saved)
            return redirect(_safe_next(request) or reverse("participants:overview", args=[pk]))
    elif request.method == "POST":
        status = 400
    if htmx and request.method == "POST":
        # htmx swaps only successful answers: the panel with its errors comes back as 200.
        context = _guess_panel_context(
            request, participant, timepoint, form=form, next_url=_safe_next(request)
        )
        return render(request, "randomization/_blinding_guess_panel.html", context)
    return render(
        request,
        "randomization/blinding_guess.html",
        {
            "participant": participant,
            "timepoint_label": GuessTimepoint(timepoint).label,
            "current": current,
            "form": form,
            "guesses": Guess,
        },
        status=status,
    )
