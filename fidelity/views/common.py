"""What every IMR page shares: the blinding guard."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse

from imrtrial import access
from imrtrial.errors import NotFound


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
