"""Who may do what, where. Every page, endpoint and selector asks these functions; none of
them decides access on its own. `may_see_allocation` is the one place that decides blinding."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trial.models import Site
from trial.roles import BLINDED_ROLES, SITE_SCOPED_ROLES, TWO_FACTOR_ROLES, UNBLINDED_ROLES, Role

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    from trial.models import Site

    AnyUser = AbstractBaseUser | AnonymousUser


@dataclass(frozen=True)
class Grants:
    """A user's roles and, per role, the site ids where it applies."""

    sites_by_role: dict[str, frozenset[int]]

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(self.sites_by_role)


def grants(user: Any) -> Grants:
    """The user's role assignments, read once per user object (i.e. once per request)."""
    cached = getattr(user, "_imr_grants", None)
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
    user._imr_grants = result
    return result


def forget_grants(user: Any) -> None:
    """Drop the cached grants after the user's roles change."""
    if hasattr(user, "_imr_grants"):
        del user._imr_grants


def roles_of(user: Any) -> frozenset[str]:
    return grants(user).roles


def has_role(user: Any, *roles: str) -> bool:
    held = roles_of(user)
    return any(role in held for role in roles)


def site_ids(user: Any, *roles: str) -> frozenset[int]:
    """Ids of the sites where the user holds any of `roles` (any trial role when none given)."""
    by_role = grants(user).sites_by_role
    wanted = roles or tuple(r for r in by_role if r != Role.ADMIN)
    found: set[int] = set()
    for role in wanted:
        found.update(by_role.get(role, ()))
    return frozenset(found)


def has_role_at(user: Any, site: Site | int, *roles: str) -> bool:
    site_id = site if isinstance(site, int) else site.pk
    return site_id in site_ids(user, *roles)


def may_see_allocation(user: Any) -> bool:
    """True only for users who hold an unblinded trial role and no blinded one.

    Blinded wins: an assessor who is also a coordinator is blinded. Admins hold no trial role
    and see no allocation."""
    held = roles_of(user)
    return bool(held & UNBLINDED_ROLES) and not (held & BLINDED_ROLES)


def is_blinded(user: Any) -> bool:
    return not may_see_allocation(user)


def needs_two_factor(user: Any) -> bool:
    return bool(roles_of(user) & TWO_FACTOR_ROLES) or bool(getattr(user, "is_superuser", False))


def role_labels(roles: Iterable[str]) -> list[str]:
    return [Role(role).label for role in sorted(roles)]
