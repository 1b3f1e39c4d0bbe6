"""The CONSORT 2010 flow diagram, drawn from the figures of reports.selectors.consort.

The boxes are built once (`boxes`) and used twice: drawn in the picture and listed as text
beneath it for screen readers. A flow without `arms` (blinded users, or before lock) has one
column and no per-arm number anywhere, not even in the wording."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch

from reports.charts import render

STAGES = ("enrolment", "allocation", "post", "followup", "analysis")


@dataclass(frozen=True)
class Box:
    stage: str
    column: int  # 0: the main (pooled) column or the first arm; 1: the second arm; 2: exclusions
    title: str
    lines: tuple[str, ...]


def stage_labels() -> dict[str, str]:
    return {
        "enrolment": _("Enrolment"),
        "allocation": _("Allocation"),
        "post": _("Post-intervention"),
        "followup": _("One-year follow-up"),
        "analysis": _("Analysis"),
    }


def arm_names() -> dict[str, str]:
    return {"IMR": _("IMR + treatment as usual"), "TAU": _("Treatment as usual")}


def _n(value: int) -> str:
    # No-break spaces: a count never wraps away from its "n =".
    return (_("(n = %(n)s)") % {"n": value}).replace(" ", "\u00a0")


def _followup_lines(counts: dict[str, int]) -> tuple[str, ...]:
    return (
        _("Assessed %(n)s") % {"n": _n(counts["assessed"])},
        _("Lost to follow-up %(n)s") % {"n": _n(counts["lost"])},
        _("Withdrew %(n)s") % {"n": _n(counts["withdrawn"])},
        _("Died %(n)s") % {"n": _n(counts["deceased"])},
        _("Not assessed, window closed %(n)s") % {"n": _n(counts["missing"])},
        _("Not yet due %(n)s") % {"n": _n(counts["not_yet_due"])},
    )


def boxes(flow: dict[str, Any]) -> list[Box]:
    excluded = flow["excluded"]
    reasons = tuple(f"– {reason} {_n(n)}" for reason, n in excluded["reasons"].items())
    found = [
        Box("enrolment", 0, _("Assessed for eligibility %(n)s") % {"n": _n(flow["assessed"])}, ()),
        Box(
            "enrolment",
            2,
            _("Excluded %(n)s") % {"n": _n(excluded["total"])},
            (
                _("Not meeting inclusion criteria %(n)s") % {"n": _n(excluded["not_eligible"])},
                *reasons,
                _("Declined to participate %(n)s") % {"n": _n(excluded["declined"])},
                _("Other reasons %(n)s") % {"n": _n(excluded["other"])},
                _("Not yet randomised (screening or consent open) %(n)s")
                % {"n": _n(flow["pending"])},
            ),
        ),
        Box("enrolment", 0, _("Randomised %(n)s") % {"n": _n(flow["randomised"])}, ()),
    ]
    arms = flow.get("arms")
    if not arms:
        found += [
            Box(
                "allocation",
                0,
                _("Allocated, both arms together %(n)s") % {"n": _n(flow["randomised"])},
                (
                    _(
                        "Per-arm figures are shown only after the database is locked, and only to "
                        "staff who may see allocation."
                    ),
                ),
            ),
            Box(
                "post",
                0,
                _("Post-intervention follow-up"),
                _followup_lines(flow["followup"]["post"]),
            ),
            Box(
                "followup",
                0,
                _("One-year follow-up"),
                _followup_lines(flow["followup"]["followup"]),
            ),
            Box(
                "analysis",
                0,
                _("Analysed, intention to treat %(n)s") % {"n": _n(flow["analysed"])},
                (),
            ),
        ]
        return found
    names = arm_names()
    for column, arm in enumerate(("IMR", "TAU")):
        figures = arms[arm]
        found += [
            Box(
                "allocation",
                column,
                _("Allocated to %(arm)s %(n)s")
                % {"arm": names[arm], "n": _n(figures["allocated"])},
                (
                    _("Received allocated intervention %(n)s") % {"n": _n(figures["received"])},
                    _("Did not receive allocated intervention %(n)s")
                    % {"n": _n(figures["not_received"])},
                ),
            ),
            Box(
                "post",
                column,
                _("Post-intervention follow-up"),
                _followup_lines(figures["followup"]["post"]),
            ),
            Box(
                "followup",
                column,
                _("One-year follow-up"),
                _followup_lines(figures["followup"]["followup"]),
            ),
            Box(
                "analysis",
                column,
                _("Analysed, intention to treat %(n)s") % {"n": _n(figures["analysed"])},
                (),
            ),
        ]
    return found


def _text(box: Box, width: int) -> str:
    lines = textwrap.wrap(box.title, width) or [""]
    for line in box.lines:
        lines += textwrap.wrap(line, width, subsequent_indent="   ")
    return "\n".join(lines)


def draw(flow: dict[str, Any]) -> Figure:
    """Boxes top to bottom by stage, the exclusions to the right of the enrolment, arrows
    between them drawn from the boxes' measured edges."""
    found = boxes(flow)
    two_arms = bool(flow.get("arms"))
    main_x = 0.32
    centres = {0: 0.31, 1: 0.75} if two_arms else {0: main_x}
    texts = {id(box): _text(box, 48 if box.column == 2 else 40) for box in found}

    def lines(box: Box) -> int:
        return texts[id(box)].count("\n") + 1

    line_h = 0.145  # inches per text line at 8 pt, with leading
    gap = 0.5  # inches between stages
    enrolment_main = [b for b in found if b.stage == "enrolment" and b.column == 0]
    exclusion = next(b for b in found if b.column == 2)
    heights = {
        "enrolment": max(
            sum(lines(b) for b in enrolment_main) * line_h + 1.2, lines(exclusion) * line_h + 0.3
        )
        + gap
    }
    for stage in STAGES[1:]:
        heights[stage] = max(lines(b) for b in found if b.stage == stage) * line_h + gap
    total = sum(heights.values()) + 0.3
    figure = render.new_figure(8.5, total)
    FigureCanvasAgg(figure)  # for measuring the boxes
    with render.settings():
        axes = figure.add_axes((0, 0, 1, 1))
        axes.set_xlim(0, 1)
        axes.set_ylim(0, total)
        axes.axis("off")
        labels = stage_labels()
        style = {"boxstyle": "square,pad=0.45", "facecolor": "white", "edgecolor": "black"}
        drawn: dict[int, Any] = {}
        top = total - 0.25
        for stage in STAGES:
            axes.text(0.005, top, labels[stage], fontsize=8, fontweight="bold", va="top")
            if stage == "enrolment":
                assessed, randomised = enrolment_main
                drawn[id(assessed)] = axes.text(
                    main_x, top - 0.1, texts[id(assessed)], ha="center", va="top", bbox=style
                )
                drawn[id(exclusion)] = axes.text(
                    0.56,
                    top - 0.1,
                    texts[id(exclusion)],
                    ha="left",
                    va="top",
                    fontsize=8,
                    bbox=style,
                )
                drawn[id(randomised)] = axes.text(
                    main_x, top - heights[stage] + gap, texts[id(randomised)],
                    ha="center", va="bottom", bbox=style,
                )  # fmt: skip
            else:
                for box in (b for b in found if b.stage == stage):
                    drawn[id(box)] = axes.text(
                        centres[box.column], top - 0.1, texts[id(box)],
                        ha="center", va="top", fontsize=8, bbox=style,
                    )  # fmt: skip
            top -= heights[stage]
        figure.canvas.draw()  # lays the boxes out, so that their edges can be measured
        renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
        to_data = axes.transData.inverted()

        def edges(box: Box) -> tuple[float, float, float, float]:
            patch = drawn[id(box)].get_bbox_patch()
            extent = patch.get_window_extent(renderer)
            (x0, y0), (x1, y1) = to_data.transform([(extent.x0, extent.y0), (extent.x1, extent.y1)])
            return x0, y0, x1, y1

        assessed, randomised = enrolment_main
        _, a_bottom, _, _ = edges(assessed)
        _, r_bottom, _, r_top = edges(randomised)
        _arrow(axes, main_x, a_bottom, main_x, r_top)
        e_left, _, _, _ = edges(exclusion)
        middle = (a_bottom + r_top) / 2
        _arrow(axes, main_x, middle, e_left, middle)
        previous = {column: (main_x, r_bottom) for column in centres}
        for stage in STAGES[1:]:
            for box in (b for b in found if b.stage == stage):
                x0, y0, x1, y1 = edges(box)
                px, py = previous[box.column]
                _arrow(axes, px, py, (x0 + x1) / 2, y1)
                previous[box.column] = ((x0 + x1) / 2, y0)
    return figure


def _arrow(axes: Any, x0: float, y0: float, x1: float, y1: float) -> None:
    axes.add_patch(
        FancyArrowPatch(
            (x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=10, color="black",
            linewidth=0.8, shrinkA=0, shrinkB=0,
        )
    )  # fmt: skip
