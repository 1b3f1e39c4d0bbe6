"""The scope of a report: which sites it covers, and whether it may split by arm."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.conf import settings
from django.db.models import DateField
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _

from reports import permissions
from trial import access
from trial.errors import Invalid, NotFound
from trial.models import Site


@dataclass(frozen=True)
class Scope:
    """The sites a report covers (ordered by site number) and whether it shows arms."""

    sites: tuple[Site, ...]
    arms: bool
    blinded: bool
    # The request: the data fingerprint is read once per request and kept on it.
    holder: Any = field(default=None, compare=False, repr=False)

    @property
    def site_ids(self) -> list[int]:
        return [site.pk for site in self.sites]

    @property
    def key(self) -> str:
        """What the report's content depends on besides the data (for cache keys)."""
        sites = ",".join(str(i) for i in self.site_ids)
        return f"{sites}:{'arms' if self.arms else 'pooled'}:{'blind' if self.blinded else 'open'}"


def scope_for(
    user: Any,
    *,
    site: str = "",
    roles: tuple[str, ...] = permissions.READERS,
    holder: Any = None,
) -> Scope:
    """The caller's sites (or the one asked for with `site`). An unknown site code is bad
    input (400); a site outside the caller's sites is not found (404), as everywhere."""
    permissions.require_reader(user, roles)
    allowed = permissions.site_ids(user, roles)
    sites = _all_sites(holder)
    code = (site or "").strip().upper()
    if code:
        chosen = [s for s in sites if s.code == code]
        if not chosen:
            known = ", ".join(s.code for s in sites)
            raise Invalid(
                _("Unknown site."), fields={"site": [_("Unknown site; use one of %s.") % known]}
            )
        if chosen[0].pk not in allowed:
            raise NotFound(_("No such site among yours."))
        sites = chosen
    return Scope(
        sites=tuple(s for s in sites if s.pk in allowed),
        arms=permissions.arms_visible(user),
        blinded=access.is_blinded(user),
        holder=holder,
    )


def _all_sites(holder: Any) -> list[Site]:
    """Every site, ordered by number; read once per request (kept on `holder`) when a page
    builds more than one scope."""
    kept = getattr(holder, "_reports_sites", None)
    if kept is None:
        kept = list(Site.objects.order_by("number"))
        if holder is not None:
            holder._reports_sites = kept
    return list(kept)


def randomized_plus_months(months: int) -> RawSQL:
    """The participant's randomisation date (Copenhagen) plus `months`, in SQL: PostgreSQL
    clamps to the month's last day exactly as assessments.windows.add_months does."""
    return RawSQL(
        '(("participants_participant"."randomized_at" AT TIME ZONE %s)::date'
        " + make_interval(months => %s))::date",
        (settings.TIME_ZONE, months),
        output_field=DateField(),
    )


def window_months(timepoint: str, edge: str) -> int:
    return int(settings.ASSESSMENT_WINDOWS[timepoint][edge])


def parse_timepoint(value: str, choices: list[str]) -> str:
    value = (value or "").strip()
    if value and value not in choices:
        raise Invalid(
            _("Unknown timepoint."),
            fields={"timepoint": [_("Unknown timepoint; use one of %s.") % ", ".join(choices)]},
        )
    return value


def today() -> date:
    return timezone.localdate()


def timepoint_labels() -> dict[str, str]:
    """Short names of the timepoints for tables and matrix headings (the visit names of
    assessments.models.Timepoint also give the windows, too long for a column)."""
    return {
        "baseline": _("Baseline (T0)"),
        "post": _("Post-intervention (T1)"),
        "followup": _("One-year follow-up (T2)"),
    }
