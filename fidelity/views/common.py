"""What every IMR page shares: the blinding guard."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse

from fidelity.forms import add_service_errors
from trial import access
from trial.errors import NotFound, TrialError


def unblinded_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Log in first; then, for anyone who may not see allocation, the page does not exist: the
    same 404 as an unknown address, never a message that would say why. Objects outside the
    user's sites get the same 404."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not access.may_see_allocation(request.user):
            raise Http404
        try:
            return view(request, *args, **kwargs)
        except NotFound:
            raise Http404 from None

    return wrapper


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def run_for_form(form: Any, call: Callable[[], Any]) -> tuple[bool, Any]:
    """Run a service for a submitted form. Its refusals of the input (400, 409) become errors
    on the form, so what was typed stays; 403 and 404 go on to the error pages."""
    try:
        return True, call()
    except TrialError as error:
        if error.status in (403, 404):
            raise
        add_service_errors(form, error)
        return False, None


def run_for_message(request: HttpRequest, call: Callable[[], Any], success: str) -> bool:
    """Run a service behind a one-button form; the outcome goes into the page's messages."""
    from django.contrib import messages

    try:
        call()
    except TrialError as error:
        if error.status in (403, 404):
            raise
        messages.error(request, error.message)
        return False
    messages.success(request, success)
    return True
