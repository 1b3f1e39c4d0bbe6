"""The charts of the home pages and the overview: each has a title, labelled axes and the same
figures as the text table the page shows beneath it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from django.utils import formats
from django.utils.translation import gettext as _
from matplotlib.figure import Figure

from reports.charts import render

# Colour-blind safe (Okabe–Ito), one per site, and the total in black.
SITE_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9")


def recruitment_chart(
    rows: Sequence[dict[str, object]],
    *,
    target: int,
    completion: date | None,
) -> Figure:
    """Cumulative randomised by month, per site and in total, with the target line."""
    months = sorted({str(row["month"]) for row in rows})
    sites = list(dict.fromkeys(str(row["site"]) for row in rows))
    cumulative = {(str(r["site"]), str(r["month"])): int(r["cumulative_randomised"]) for r in rows}  # type: ignore[call-overload]
    figure = render.new_figure(8, 4)
    with render.settings():
        axes = figure.add_subplot(1, 1, 1)
        positions = list(range(len(months)))
        for index, site in enumerate(sites):
            axes.plot(
                positions,
                [cumulative.get((site, m), 0) for m in months],
                label=site,
                color=SITE_COLOURS[index % len(SITE_COLOURS)],
                linewidth=1.5,
            )
        if len(sites) > 1:
            totals = [sum(cumulative.get((s, m), 0) for s in sites) for m in months]
            axes.plot(positions, totals, label=_("Total"), color="black", linewidth=2)
        axes.axhline(
            target,
            color="#D55E00",
            linestyle="--",
            linewidth=1,
            label=_("Target (%(n)s)") % {"n": target},
        )
        axes.set_title(_("Participants randomised, cumulative by month"))
        axes.set_xlabel(_("Month"))
        axes.set_ylabel(_("Participants randomised"))
        step = max(1, len(months) // 8)
        axes.set_xticks(positions[::step], months[::step], rotation=30, ha="right")
        axes.set_ylim(0, max(target * 1.1, 1))
        if completion is not None:
            axes.text(
                0.01,
                0.97,
                _("Projected completion: %(date)s")
                % {"date": formats.date_format(completion, "SHORT_DATE_FORMAT")},
                transform=axes.transAxes,
                va="top",
            )
        if months:
            axes.legend(loc="upper left", bbox_to_anchor=(0.0, 0.9), frameon=False)
        else:
            axes.text(0.5, 0.5, _("Nobody randomised yet"), transform=axes.transAxes, ha="center")
        figure.tight_layout()
    return figure


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    percent: bool = False,
) -> Figure:
    """Horizontal bars, the first label on top, each bar labelled with its value. Labels may
    hold line breaks (long visit names are wrapped): the figure grows with their lines."""
    height = 1.2 + 0.35 * max(sum(label.count("\n") + 1 for label in labels), 1)
    figure = render.new_figure(7, height)
    with render.settings():
        axes = figure.add_subplot(1, 1, 1)
        positions = list(range(len(labels)))[::-1]
        axes.barh(positions, values, color=SITE_COLOURS[0])
        axes.set_yticks(positions, list(labels))
        axes.set_title(title)
        axes.set_xlabel(xlabel)
        axes.set_ylabel(ylabel)
        top = max([*values, 1])
        axes.set_xlim(0, 100 if percent else top * 1.15)
        for position, value in zip(positions, values, strict=True):
            shown = f"{value:.0f}%" if percent else f"{value:g}"
            axes.text(value, position, f" {shown}", va="center")
        figure.tight_layout()
    return figure
