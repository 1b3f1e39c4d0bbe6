"""The Django admin of this system: accounts and configuration, for the admin role only.

It is not a way into trial data: the admin role is not a trial-data role, so only staff
accounts, role assignments, sites and the security log are registered here (accounts.admin),
never participants, forms or allocations."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from trial import access
from trial.roles import Role

View = TypeVar("View", bound=Callable[..., Any])


class TrialAdminSite(admin.AdminSite):
    site_header = _("IMR trial EDC · accounts")
    site_title = _("IMR trial EDC accounts")
    index_title = _("Staff accounts and configuration")

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        verified = getattr(user, "is_verified", None)
        return bool(
            user.is_active
            and access.has_role(user, Role.ADMIN)
            and verified is not None
            and verified()
        )

    def admin_view(self, view: View, cacheable: bool = False) -> View:
        inner = super().admin_view(view, cacheable)

        @wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            # Logged in but not an administrator: say so (403) rather than send them to a
            # login page that would send them straight back.
            if request.user.is_authenticated and not self.has_permission(request):
                raise PermissionDenied(_("Only administrators manage accounts."))
            return inner(request, *args, **kwargs)

        return cast(View, guarded)

    def login(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        """One login page for everybody, with its second factor: the trial's own."""
        if request.user.is_authenticated:
            if self.has_permission(request):
                return redirect("admin:index")
            raise PermissionDenied(_("Only administrators manage accounts."))
        return redirect_to_login(
            request.GET.get("next") or reverse("admin:index"), reverse("login")
        )
