"""`queries`: one row per data query, for the data-management report and the trial master
file: which field of which form, raised by an edit check or by a data manager, its status,
when it was raised, answered and closed (days relative to randomisation), how long it took,
how many messages and re-openings.

The conversation is free text written by staff about a person and may name people or quote
identifiers; it is not exported at all (scrubbing names from free text cannot be made
reliable). The edit check's code says what an automatic query was about. A blinded export
leaves out the queries on forms blinded users may not read (IMRS_C)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from django.db.models import Count, Q
from django.db.models.functions import Collate
from django.utils import timezone

from assessments.models import Query, QueryAction, QueryKind, QueryMessage, QueryStatus
from datasets.base import Column, Dataset, Row
from datasets.base import VarType as T
from datasets.context import ExportContext
from datasets.instruments import TIMEPOINT_NUMBERS
from datasets.responses import timepoint_labels

CHUNK = 5000


def kind_labels() -> tuple[tuple[int, str], ...]:
    return tuple((n, str(label)) for n, (_, label) in enumerate(QueryKind.choices, start=1))


def status_labels() -> tuple[tuple[int, str], ...]:
    return tuple((n, str(label)) for n, (_, label) in enumerate(QueryStatus.choices, start=1))


class QueriesBuilder:
    name = "queries"
    reveals_allocation = False

    def columns(self, context: ExportContext) -> list[Column]:
        return [
            Column("QUERY_ID", "Query (number of the query in the EDC)", T.INTEGER, key=True),
            context.study_id_column(),
            context.site_column(),
            Column("INSTRUMENT", "Instrument of the form", T.TEXT),
            Column(
                "TIMEPOINT", "Timepoint of the form", T.INTEGER, value_labels=timepoint_labels()
            ),
            Column(
                "ITEM",
                "Field queried: item code, interview_date, or empty for the whole form",
                T.TEXT,
            ),
            Column("KIND", "Raised by", T.INTEGER, value_labels=kind_labels()),
            Column(
                "EDIT_CHECK",
                "Edit check that raised it (automatic queries)",
                T.TEXT,
                derivation="The check's code in the instrument module or the visit windows.",
            ),
            Column(
                "STATUS", "Query status at the snapshot", T.INTEGER, value_labels=status_labels()
            ),
            context.day_column(
                "RAISED_DAY",
                "Raised, days from randomisation",
                "Date raised − randomisation date.",
            ),
            context.day_column(
                "ANSWERED_DAY",
                "Last answered, days from randomisation",
                "Date of the last answer − randomisation date.",
            ),
            context.day_column(
                "CLOSED_DAY",
                "Closed, days from randomisation",
                "Date closed − randomisation date; empty while open or answered.",
            ),
            Column(
                "DAYS_TO_CLOSE",
                "Days from raising to closing",
                T.INTEGER,
                minimum=0,
                derivation="Date closed − date raised; empty while open or answered.",
            ),
            Column(
                "MESSAGES",
                "Messages in the conversation (not exported)",
                T.INTEGER,
                minimum=0,
            ),
            Column("REOPENED", "Times re-opened", T.INTEGER, minimum=0),
        ]

    def build(self, context: ExportContext) -> Iterable[Dataset]:
        yield Dataset(
            name="queries",
            label="Data queries: one row per query",
            description="Every data query, automatic (edit checks) and manual (data managers), "
            "without the conversation's free text.",
            columns=self.columns(context),
            chunks=lambda: self._chunks(context),
            odm=None,  # data management, not clinical data
            sources=self._sources(),
        )

    def _sources(self) -> tuple:
        return (Query, QueryMessage)

    def _chunks(self, context: ExportContext) -> Iterator[Sequence[Row]]:
        kinds = {value: n for n, value in enumerate(QueryKind.values, start=1)}
        statuses = {value: n for n, value in enumerate(QueryStatus.values, start=1)}
        hidden = [
            meta.code
            for meta in context.catalogue.values()
            if context.blinded and not meta.blinded_readable
        ]
        rows = (
            Query.objects.exclude(response__instrument__in=hidden)
            .annotate(
                n_messages=Count("messages"),
                n_reopened=Count("messages", filter=Q(messages__action=QueryAction.REOPENED)),
            )
            .order_by(Collate("response__participant__study_id", "C"), "id")
            .values_list(
                "id",
                "response__participant_id",
                "response__instrument",
                "response__timepoint",
                "item",
                "kind",
                "edit_check",
                "status",
                "raised_at",
                "answered_at",
                "closed_at",
                "n_messages",
                "n_reopened",
            )
            .iterator(chunk_size=CHUNK)
        )
        chunk: list[Row] = []
        for (
            pk,
            participant_id,
            instrument,
            timepoint,
            item,
            kind,
            edit_check,
            status,
            raised_at,
            answered_at,
            closed_at,
            messages,
            reopened,
        ) in rows:
            facts = context.participants[participant_id]
            raised = timezone.localdate(raised_at)
            answered = timezone.localdate(answered_at) if answered_at else None
            closed = (
                timezone.localdate(closed_at)
                if closed_at and status == QueryStatus.CLOSED
                else None
            )
            chunk.append(
                (
                    pk,
                    facts.study_id,
                    facts.site_number,
                    instrument,
                    TIMEPOINT_NUMBERS[timepoint],
                    item or None,
                    kinds[kind],
                    edit_check or None,
                    statuses[status],
                    context.days_from_randomization(facts, raised),
                    context.days_from_randomization(facts, answered),
                    context.days_from_randomization(facts, closed),
                    (closed - raised).days if closed else None,
                    messages,
                    reopened,
                )
            )
            if len(chunk) >= CHUNK:
                yield chunk
                chunk = []
        yield chunk
