"""Printable CRFs as PDF (WeasyPrint, with Debian's DejaVu fonts): a blank form for interviews
on paper, a filled form, a visit and a participant's whole casebook.

The content comes from the same places as the form pages: the rows of assessments.forms (one
per item, with the value, the missing-data reason, the comment) built from the instrument
module (labels, allowed values and their anchors, scores, the missing-data rule), and the
response's own version, rater, verification and history. Blinding is decided before anything
is rendered: a form whose values the user may not read is never part of the document."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import weasyprint
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone

from assessments import forms as entry_forms
from assessments import selectors as assessment_selectors
from assessments.api.responses import derived_values
from assessments.models import InstrumentResponse, Timepoint
from casebooks import selectors
from casebooks.selectors import SignatureState
from instruments.base import Instrument, MissingReason
from participants.models import Participant


@dataclass
class PrintedForm:
    instrument: Instrument
    sections: list[entry_forms.Section]
    response: InstrumentResponse | None = None
    scores: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def blank(self) -> bool:
        return self.response is None


@dataclass
class PrintedVisit:
    timepoint: str
    label: str
    forms: list[PrintedForm]
    signatures: list[SignatureState] = field(default_factory=list)
    # Forms of the visit with nothing saved, named rather than printed blank (casebooks).
    not_entered: list[Instrument] = field(default_factory=list)

    def entered_only(self) -> PrintedVisit:
        """The visit with its saved forms only: a casebook is the record of what was
        collected; a blank CRF for every form never entered would bury it (and take WeasyPrint
        many pages to draw)."""
        return replace(
            self,
            forms=[form for form in self.forms if not form.blank],
            not_entered=[form.instrument for form in self.forms if form.blank],
        )


def printed_form(
    instrument: Instrument,
    *,
    participant: Participant | None = None,
    response: InstrumentResponse | None = None,
) -> PrintedForm:
    """One form: filled when `response` is given, else blank (derived items, such as the
    site of the demographics, are still filled in from the participant)."""
    if response is not None:
        derived = derived_values(response, instrument)
    elif participant is not None and instrument.derive is not None:
        derived = {
            code: value
            for code, value in instrument.derive(participant).items()
            if instrument.item(code).exported
        }
    else:
        derived = {}
    rows = entry_forms.rows_from_response(instrument, response, derived)
    scores = (
        [{"score": s, "value": response.scores.get(s.code)} for s in instrument.scores]
        if response is not None
        else []
    )
    return PrintedForm(
        instrument=instrument,
        sections=entry_forms.sections(rows),
        response=response,
        scores=scores,
        history=assessment_selectors.response_history(response) if response is not None else [],
    )


def visit(user: Any, participant: Participant, timepoint: str, *, filled: bool) -> PrintedVisit:
    """Every form of a visit the user may read: saved ones filled, the others blank."""
    saved = {
        r.instrument: r
        for r in InstrumentResponse.objects.filter(
            participant=participant, timepoint=timepoint
        ).select_related("rater", "verified_by", "participant")
    }
    forms = [
        printed_form(
            instrument,
            participant=participant,
            response=saved.get(instrument.code) if filled else None,
        )
        for instrument in selectors.readable_instruments(user, participant, timepoint)
    ]
    states = selectors.signatures_for(user, participant).get(timepoint, []) if filled else []
    return PrintedVisit(timepoint, str(Timepoint(timepoint).label), forms, states)


def context(
    *,
    title: str,
    visits: list[PrintedVisit],
    user: Any,
    participant: Participant | None = None,
) -> dict[str, Any]:
    return {
        "title": title,
        "participant": participant,
        "visits": visits,
        "printed_by": user.get_full_name().strip() or user.get_username(),
        "printed_at": timezone.localtime(),
        "missing_reasons": MissingReason.choices,
    }


def _no_fetching(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """The document is self-contained (inline CSS, system fonts): it never fetches anything,
    so a value typed into a form can never make the server request a URL."""
    raise ValueError(f"Printed CRFs load no resources ({url[:40]!r}).")


# The page and type of every printed CRF (a file of its own: pages carry no inline styles).
STYLESHEET = Path(__file__).with_name("print.css")


@cache
def _stylesheet() -> weasyprint.CSS:
    return weasyprint.CSS(string=STYLESHEET.read_text(encoding="utf-8"), url_fetcher=_no_fetching)


def render_pdf(request: HttpRequest, template: str, data: dict[str, Any]) -> bytes:
    html = render_to_string(template, data, request=request)
    document = weasyprint.HTML(string=html, url_fetcher=_no_fetching, base_url=None)
    pdf = document.write_pdf(stylesheets=[_stylesheet()])
    assert pdf is not None
    return pdf
