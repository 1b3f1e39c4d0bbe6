"""Who may do what, where. Every page, endpoint and selector asks these functions; none of
them decides access on its own. `may_see_allocation` is the one place that decides blinding."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from trial.models import Site
from trial.roles import BLINDED_ROLES, SITE_SCOPED_ROLES, TWO_FACTOR_ROLES, UNBLINDED_ROLES, Role

# Whoever asks: the user of a request, signed in or not (Django's and DRF's `request.user`).
# What writes takes a `User`, the staff account; `signed_in` turns the one into the other.
Viewer = User | AnonymousUser
# The attribute that keeps a user's grants on the user object (request.user lives one request).
_GRANTS = "_imr_grants"


@dataclass(frozen=True)
class Grants:
    """A user's roles and, per role, the site ids where it applies."""

    sites_by_role: dict[str, frozenset[int]]

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(self.sites_by_role)


def grants(user: Viewer) -> Grants:
    """The user's role assignments, read once per user object (i.e. once per request)."""
    cached: Grants | None = getattr(user, _GRANTS, None)
    if cached is not None:
        return cached
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        result = Grants({})
    else:
        all_sites = frozenset(Site.objects.values_list("id", flat=True))
        by_role: dict[str, set[int]] = {}
        for role, site_id in user.role_assignments.values_list("role", "site_id"):
            sites = by_role.setdefault(role, set())
            if site_id is None or role not in SITE_SCOPED_ROLES:
                sites.update(all_sites)
            else:
                sites.add(site_id)
        result = Grants({role: frozenset(ids) for role, ids in by_role.items()})
    setattr(user, _GRANTS, result)
    return result


def forget_grants(user: Viewer) -> None:
    """Drop the cached grants after the user's roles change."""
    if hasattr(user, _GRANTS):
        delattr(user, _GRANTS)


def roles_of(user: Viewer) -> frozenset[str]:
    return grants(user).roles


def has_role(user: Viewer, *roles: str) -> bool:
    held = roles_of(user)
    return any(role in held for role in roles)


def site_ids(user: Viewer, *roles: str) -> frozenset[int]:
    """Ids of the sites where the user holds any of `roles` (any trial role when none given)."""
    by_role = grants(user).sites_by_role
    wanted = roles or tuple(r for r in by_role if r != Role.ADMIN)
    found: set[int] = set()
    for role in wanted:
        found.update(by_role.get(role, ()))
    return frozenset(found)


def has_role_at(user: Viewer, site: Site | int, *roles: str) -> bool:
    site_id = site if isinstance(site, int) else site.pk
    return site_id in site_ids(user, *roles)


def may_see_allocation(user: Viewer) -> bool:
    """True only for users who hold an unblinded trial role and no blinded one.

    Blinded wins: an assessor who is also a coordinator is blinded. Admins hold no trial role
    and see no allocation."""
    held = roles_of(user)
    return bool(held & UNBLINDED_ROLES) and not (held & BLINDED_ROLES)


def is_blinded(user: Viewer) -> bool:
    return not may_see_allocation(user)


def needs_two_factor(user: Viewer) -> bool:
    return bool(roles_of(user) & TWO_FACTOR_ROLES) or bool(getattr(user, "is_superuser", False))


def signed_in(user: Viewer) -> User:
    """The staff account behind a request that must be signed in (a page behind
    login_required, an endpoint behind IsAuthenticated): 403 for anybody else."""
    if not isinstance(user, User) or not user.is_authenticated:
        raise PermissionDenied(_("Sign in first."))
    return user


def role_labels(roles: Iterable[str]) -> list[str | Promise]:
    return [Role(role).label for role in sorted(roles)]
