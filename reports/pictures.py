"""The pictures the pages show and offer for download, each with the text table that says the
same in words. A picture is made for one user's scope and cached under the data fingerprint
and that scope (reports.cache), in every format it is asked for."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _
from matplotlib.figure import Figure

from assessments.models import visit_name
from reports import cache, permissions
from reports.charts import consort as consort_chart
from reports.charts import plots, render
from reports.selectors import consort, home, recruitment
from reports.selectors.scope import Scope, scope_for
from trial.errors import NotFound
from trial.models import Site


@dataclass(frozen=True)
class Table:
    caption: str
    headers: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]


@dataclass(frozen=True)
class Picture:
    name: str
    title: str
    formats: tuple[str, ...]
    table: Table
    draw: Callable[[], Figure] = field(repr=False)


def _recruitment(scope: Scope) -> Picture:
    rows = [row.as_dict() for row in recruitment.recruitment(scope)]
    projected = home.projection(scope, site_count=Site.objects.count())
    table_rows = []
    for row in rows:
        table_rows.append(
            (
                row["month"],
                row["site"],
                row["screened"],
                row["consented"],
                row["randomised"],
                row["cumulative_randomised"],
            )
        )
    return Picture(
        name="recruitment",
        title=_("Recruitment against the target"),
        formats=("svg", "png"),
        table=Table(
            caption=_("Screened, consented and randomised by month and site"),
            headers=(
                _("Month"),
                _("Site"),
                _("Screened"),
                _("Consented"),
                _("Randomised"),
                _("Randomised, cumulative"),
            ),
            rows=tuple(table_rows),
        ),
        draw=lambda: plots.recruitment_chart(
            rows, target=projected.target, completion=projected.completion
        ),
    )


def funnel_labels() -> dict[str, str]:
    return {
        "registered": _("Registered"),
        "screened": _("Screened"),
        "eligible": _("Eligible"),
        "consented": _("Consented"),
        "randomised": _("Randomised"),
    }


def _funnel(scope: Scope) -> Picture:
    steps = home.funnel(scope)
    names = funnel_labels()
    labels = [names[key] for key, _n in steps]
    values = [n for _key, n in steps]
    return Picture(
        name="funnel",
        title=_("Screening funnel"),
        formats=("svg", "png"),
        table=Table(
            _("Screening funnel"),
            (_("Step"), _("Participants")),
            tuple(zip(labels, values, strict=True)),
        ),
        draw=lambda: plots.bar_chart(
            labels, values, title=_("Screening funnel"), xlabel=_("Participants"), ylabel=_("Step")
        ),
    )


def timepoint_labels() -> dict[str, str]:
    """The visits' one name, with their timing (assessments.models.visit_name)."""
    return {tp: visit_name(tp) for tp in ("baseline", "post", "followup")}


def _retention(scope: Scope) -> Picture:
    found = home.retention(scope)
    names = timepoint_labels()
    labels = [textwrap.fill(names[r.timepoint], 32) for r in found]
    values = [r.percent or 0.0 for r in found]
    return Picture(
        name="retention",
        title=_("Retention per timepoint"),
        formats=("svg", "png"),
        table=Table(
            _("Retention per timepoint"),
            (_("Timepoint"), _("Assessed"), _("Due"), _("Retained (%)")),
            tuple(
                (names[r.timepoint], r.assessed, r.due, "–" if r.percent is None else r.percent)
                for r in found
            ),
        ),
        draw=lambda: plots.bar_chart(
            labels,
            values,
            title=_("Retention per timepoint"),
            xlabel=_("Assessed, % of those due"),
            ylabel=_("Timepoint"),
            percent=True,
        ),
    )


def _consort(scope: Scope) -> Picture:
    flow = consort.consort(scope)
    boxes = consort_chart.boxes(flow)
    stages = consort_chart.stage_labels()
    arms = consort_chart.arm_names()
    rows = []
    for box in boxes:
        column = (
            _("Excluded")
            if box.column == 2
            else (
                arms[("IMR", "TAU")[box.column]]
                if flow.get("arms") and box.stage != "enrolment"
                else ""
            )
        )
        rows.append((stages[box.stage], column, box.title, "; ".join(box.lines)))
    return Picture(
        name="consort",
        title=_("CONSORT 2010 flow diagram"),
        formats=render.FORMATS,
        table=Table(
            _("CONSORT 2010 flow diagram, box by box"),
            (_("Stage"), _("Column"), _("Box"), _("Details")),
            tuple(rows),
        ),
        draw=lambda: consort_chart.draw(flow),
    )


def picture_titles() -> dict[str, str]:
    return {
        "consort": _("CONSORT 2010 flow diagram"),
        "recruitment": _("Recruitment against the target"),
        "funnel": _("Screening funnel"),
        "retention": _("Retention per timepoint"),
    }


# name -> (roles that may see it, builder)
PICTURES: dict[str, tuple[tuple[str, ...], Callable[[Scope], Picture]]] = {
    "consort": (permissions.READERS, _consort),
    "recruitment": (permissions.READERS, _recruitment),
    "funnel": (permissions.READERS, _funnel),
    "retention": (permissions.READERS, _retention),
}


def scope_of(user: Any, name: str, *, site: str = "", holder: Any = None) -> Scope:
    if name not in PICTURES:
        raise NotFound(_("No such picture."))
    return scope_for(user, site=site, roles=PICTURES[name][0], holder=holder)


def rendered(user: Any, name: str, fmt: str, *, site: str = "", holder: Any = None) -> bytes:
    """The picture's bytes in `fmt` (svg, png, pdf where offered), cached per scope and data."""
    scope = scope_of(user, name, site=site, holder=holder)
    builder = PICTURES[name][1]

    def build() -> bytes:
        found = builder(scope)
        if fmt not in found.formats:
            raise NotFound(_("This picture is not offered in that format."))
        return render.save(found.draw(), fmt)

    return cache.remember(f"picture:{name}:{fmt}", scope, build)


def table(user: Any, name: str, *, site: str = "", holder: Any = None) -> Table:
    scope = scope_of(user, name, site=site, holder=holder)
    builder = PICTURES[name][1]
    return cache.remember(f"picture-table:{name}", scope, lambda: builder(scope).table)


def page_picture(user: Any, name: str, *, site: str = "", holder: Any = None) -> dict[str, Any]:
    """What a page needs: the inline SVG, the table, the download formats."""
    svg = rendered(user, name, "svg", site=site, holder=holder)
    found_table = table(user, name, site=site, holder=holder)
    titles = picture_titles()
    formats = render.FORMATS if name == "consort" else ("svg", "png")
    return {
        "name": name,
        "title": titles[name],
        "svg": render.inline_svg(svg, title=titles[name]),
        "table": found_table,
        "formats": formats,
    }
