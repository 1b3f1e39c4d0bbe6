"""Pages for data managers and statisticians: the freeze/lock, exports with a live progress
bar, downloads and the masking key."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from accounts.reauth import LockedOut
from casebooks import selectors as signature_selectors
from casebooks import services as signature_services
from exports import selectors, services
from exports.api import dictionary_response, download_response
from exports.forms import ExportForm, LockChangeForm
from exports.models import ExportJob, ExportLanguage
from trial import access
from trial.access import needs_two_factor
from trial.errors import Forbidden, Invalid, TrialError
from trial.models import DatasetLock
from trial.roles import Role
from trial.selectors import current_lock, lock_history, lock_level

Level = DatasetLock.Level


def _require(allowed: bool, message: str) -> None:
    if not allowed:
        raise Forbidden(message)


def _available_actions(level: str) -> list[str]:
    if level == Level.OPEN:
        return ["freeze", "lock"]
    if level == Level.FREEZE:
        return ["lock", "unlock"]
    return ["unlock"]


@login_required
@require_http_methods(["GET", "POST"])
def lock(request: HttpRequest) -> HttpResponse:
    _require(
        selectors.may_manage_lock(request.user),
        "Only data managers and statisticians freeze and lock the database.",
    )
    level = lock_level()
    sign_errors: dict[str, list[str]] = {}
    if request.method == "POST" and request.POST.get("action") == "sign":
        try:
            signature_services.lock_sign(
                request=request,
                user=request.user,
                password=request.POST.get("password", ""),
                otp=request.POST.get("otp", ""),
            )
        except TrialError as error:
            sign_errors = dict(error.fields or {"__all__": [error.message]})
        else:
            messages.success(request, _("The lock is signed."))
            return redirect("exports:lock")
    forms = {action: LockChangeForm(prefix=action, initial={"action": action}) for action in
             _available_actions(level)}  # fmt: skip
    if request.method == "POST" and not sign_errors:
        action = request.POST.get("action", "")
        if action not in dict(LockChangeForm.ACTIONS):
            raise Invalid(_("Choose freeze, lock or unlock."))
        form = LockChangeForm(request.POST, prefix=action)
        forms[action] = form
        if form.is_valid():
            data = form.cleaned_data
            try:
                if data["action"] == "freeze":
                    services.dataset_freeze(user=request.user, reason=data["reason"])
                elif data["action"] == "lock":
                    services.dataset_lock(
                        user=request.user,
                        reason=data["reason"],
                        override_open_queries=data["override_open_queries"],
                    )
                else:
                    services.dataset_unlock(
                        user=request.user, reason=data["reason"], to=data["to"] or Level.OPEN
                    )
            except TrialError as error:
                for field, problems in (error.fields or {"__all__": [error.message]}).items():
                    for problem in problems:
                        form.add_error(field if field in form.fields else None, problem)
            else:
                state = current_lock()
                word = state.get_level_display().lower() if state else _("open")
                messages.success(request, _("The database is now {word}.").format(word=word))
                return redirect("exports:lock")
    return render(
        request,
        "exports/lock.html",
        {
            "current": current_lock(),
            "level": level,
            "forms": forms,
            "open_queries": selectors.open_query_count(),
            "history": lock_history(limit=200),
            "may_sign": level == Level.LOCK and access.has_role(request.user, Role.DATA_MANAGER),
            "sign_errors": sign_errors,
            "two_factor": needs_two_factor(request.user),
            "signatures": [
                signature_selectors.lock_signature_state(s)
                for s in signature_selectors.lock_signatures()
            ],
        },
        status=400 if request.method == "POST" else 200,
    )


@login_required
@require_http_methods(["GET"])
def data_dictionary(request: HttpRequest) -> HttpResponse:
    """The data dictionary page (HTML, shown in the browser; ?as=csv downloads it)."""
    return dictionary_response(request, attachment=False)


@login_required
@require_http_methods(["GET", "POST"])
def export_list(request: HttpRequest) -> HttpResponse:
    _require(
        selectors.may_export(request.user), "Only data managers and statisticians make exports."
    )
    may_unblind = selectors.may_export_unblinded(request.user)
    form = ExportForm(request.POST or None, may_unblind=may_unblind)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                job = services.export_request(
                    user=request.user,
                    formats=form.cleaned_data["formats"],
                    blinded=not form.cleaned_data.get("unblinded", False),
                    language=form.cleaned_data["language"] or ExportLanguage.ENGLISH,
                )
            except TrialError as error:
                for field, problems in (error.fields or {"__all__": [error.message]}).items():
                    for problem in problems:
                        form.add_error(field if field in form.fields else None, problem)
                status = error.status
            else:
                messages.success(request, _("The export has started; it appears below."))
                return redirect(f"{request.path}#job-{job.pk}")
        else:
            status = 400
    return render(
        request,
        "exports/list.html",
        {
            "form": form,
            "jobs": selectors.export_jobs_visible_to(request.user)[:50],
            "may_unblind": may_unblind,
            "level": lock_level(),
        },
        status=status,
    )


@login_required
def export_detail(request: HttpRequest, pk: str) -> HttpResponse:
    _require(selectors.may_export(request.user), "Only data managers and statisticians.")
    job = selectors.export_job_get(user=request.user, pk=pk)
    return render(request, "exports/detail.html", {"job": job})


@login_required
def export_progress(request: HttpRequest, pk: str) -> HttpResponse:
    """The htmx fragment polled while a job runs: a table row, or the status panel of the
    job's page (`?panel=1`). A finished job's fragment has no trigger, so polling stops."""
    _require(selectors.may_export(request.user), "Only data managers and statisticians.")
    job = selectors.export_job_get(user=request.user, pk=pk)
    template = "exports/_job_panel.html" if request.GET.get("panel") else "exports/_job_row.html"
    return render(request, template, {"job": job})


@login_required
def export_download(request: HttpRequest, pk: str, name: str) -> FileResponse:
    _require(selectors.may_export(request.user), "Only data managers and statisticians.")
    job: ExportJob = selectors.export_job_get(user=request.user, pk=pk)
    return download_response(request, job=job, name=name, channel="web")


@login_required
@require_http_methods(["GET", "POST"])
def masking_key(request: HttpRequest) -> HttpResponse:
    """The statistician's view of the masking key after lock. Showing it is signed (password
    and code again, casebooks) and recorded, so it takes a deliberate POST."""
    released = None
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        try:
            released = services.masking_key_release_sign(
                request=request,
                user=request.user,
                password=request.POST.get("password", ""),
                otp=request.POST.get("otp", ""),
                channel="web",
                ip=request.META.get("REMOTE_ADDR"),
                request_id=getattr(request, "audit_request_id", ""),
            )
        except (Invalid, LockedOut) as error:
            status = error.status
            errors = dict(error.fields or {"__all__": [error.message]})
    else:
        services.masking_key_check_recipient(request.user)
    return render(
        request,
        "exports/masking_key.html",
        {
            "released": released,
            "level": lock_level(),
            "errors": errors,
            "two_factor": needs_two_factor(request.user),
            "signatures": [
                signature_selectors.lock_signature_state(s)
                for s in signature_selectors.lock_signatures().filter(subject="masking_key")
            ],
        },
        status=status,
    )
