"""`service_use`: one row per randomised participant and analysis window (W_PRE, W1, W2,
W_ALL) with the psychiatric service use counted from the current register import, for the
Poisson / negative binomial models of the count outcomes.

The windows and the counts come from the assessments app (`service_use_by_window`: its windows,
its summing rule, its linkage status) and the labels and derivations from the SERVICE_USE
instrument module. No record in a window is 0; the counts are missing only where linkage
failed (LINKED 2) or a register period crosses the window's boundary (LINKED 3), as the
module's missing rule says. DAYS_AT_RISK is the model offset: the days of the window the
participant was alive (SPEC §11: for death, record the days at risk and flag them)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date

from django.utils import timezone

from assessments.models import RegisterImport, ServiceUsePeriod
from assessments.selectors import WindowCounts, current_register_import, service_use_by_window
from datasets.base import Column, Dataset, OdmBinding, OdmEvent, Row
from datasets.base import VarType as T
from datasets.context import NO_YES, ExportContext, ParticipantFacts
from datasets.forms import describe_notes
from instruments.service_use import WINDOW_LABELS, WINDOWS
from participants.models import Participant, Status
from randomization.models import Allocation

SERVICE_USE = "SERVICE_USE"
CHUNK = 1250  # participants per chunk: 5,000 rows (four windows each)
REGISTER_EVENT = OdmEvent("SE.REGISTER", "National register follow-up", 5)
LINK_STATUSES = {"ok": 1, "not_linked": 2, "crosses_boundary": 3}
LINK_LABELS = (
    (1, "Linked: counts complete"),
    (2, "Not linked in the current register import (counts missing)"),
    (3, "A register period crosses the window's boundary (counts missing)"),
)


def window_labels() -> tuple[tuple[int, str], ...]:
    return tuple(
        (number, f"{code}: {WINDOW_LABELS[code]}") for number, code in enumerate(WINDOWS, start=1)
    )


class ServiceUseBuilder:
    name = "service_use"
    reveals_allocation = False

    def columns(self, context: ExportContext) -> list[Column]:
        meta = context.catalogue[SERVICE_USE]
        columns = [
            context.study_id_column(),
            context.site_column(),
            context.allocation_column(),
            Column("WINDOW", "Analysis window", T.INTEGER, value_labels=window_labels(), key=True),
            context.day_column(
                "WIN_START",
                "First day of the window, days from randomisation",
                "Window start − randomisation date (windows: assessments.windows).",
            ),
            context.day_column(
                "WIN_END",
                "Last day of the window, days from randomisation",
                "Window end − randomisation date.",
            ),
            Column(
                "WIN_DAYS",
                "Length of the window (days)",
                T.INTEGER,
                minimum=0,
                derivation="WIN_END − WIN_START + 1.",
                notes="Unit: days",
            ),
            Column(
                "LINKED",
                "Register linkage in this window",
                T.INTEGER,
                value_labels=LINK_LABELS,
                derivation="From the current register import (assessments).",
            ),
        ]
        for variable in meta.variables:
            columns.append(
                Column(
                    variable.code,
                    variable.label,
                    T.INTEGER,
                    minimum=variable.min,
                    maximum=variable.max,
                    instrument=SERVICE_USE,
                    derivation=variable.derivation,
                    source=variable.code,
                    notes=describe_notes(variable),
                )
            )
        columns += [
            Column(
                "DAYS_AT_RISK",
                "Days at risk in the window (alive)",
                T.INTEGER,
                minimum=0,
                derivation="WIN_DAYS, shortened to the day of death for a participant who died "
                "on or before the window's last day (0 if before its first day). Emigration is "
                "not recorded in the EDC.",
                notes="Unit: days; the offset of count models",
            ),
            Column(
                "DIED",
                "Died on or before the window's last day",
                T.INTEGER,
                value_labels=NO_YES,
                derivation="Status deceased with a date on or before WIN_END.",
            ),
            Column(
                "WIN_OVER",
                "The window had ended when the register data were imported",
                T.INTEGER,
                value_labels=NO_YES,
                derivation="1 if the window's last day is before the day of the current "
                "register import; 0 means the counts may be incomplete.",
            ),
        ]
        return columns

    def build(self, context: ExportContext) -> Iterable[Dataset]:
        yield Dataset(
            name="service_use",
            label="Service use (registers): one row per participant and window",
            description="Randomised participants × the analysis windows W_PRE, W1, W2, W_ALL: "
            "psychiatric admissions, bed days, emergency room and outpatient contacts from the "
            "current register import.",
            columns=self.columns(context),
            chunks=lambda: self._chunks(context),
            odm=OdmBinding(
                form_oid="F.SERVICE_USE",
                form_name="Service use (register)",
                event=REGISTER_EVENT,
                repeat_column="WINDOW",
            ),
            sources=self._sources(),
        )

    def _sources(self) -> tuple:
        return (RegisterImport, ServiceUsePeriod, Participant, Allocation)

    def _chunks(self, context: ExportContext) -> Iterator[Sequence[Row]]:
        current = current_register_import()
        imported_on = timezone.localdate(current.imported_at) if current else None
        randomised = [f for f in context.participants.values() if f.randomized_on is not None]
        for start in range(0, len(randomised), CHUNK):
            people = randomised[start : start + CHUNK]  # ordered by study ID
            # The counts of these people only: memory stays flat at any size.
            counts = service_use_by_window([facts.id for facts in people])
            yield self._rows(context, people, counts, imported_on)

    def _rows(
        self,
        context: ExportContext,
        people: list[ParticipantFacts],
        counts: dict[int, dict[str, WindowCounts]],
        imported_on: date | None,
    ) -> list[Row]:
        chunk: list[Row] = []
        for facts in people:
            day0 = facts.randomized_on
            assert day0 is not None
            died_on = facts.status_date if facts.status == Status.DECEASED else None
            windows = counts[facts.id]
            for number, code in enumerate(WINDOWS, start=1):
                window = windows[code]
                assert window.start is not None and window.end is not None
                length = (window.end - window.start).days + 1
                at_risk = length
                died = died_on is not None and died_on <= window.end
                if died and died_on is not None:
                    at_risk = max(0, min(length, (died_on - window.start).days + 1))
                linked = LINK_STATUSES[window.status]
                chunk.append(
                    (
                        facts.study_id,
                        facts.site_number,
                        context.allocation_value(facts),
                        number,
                        (window.start - day0).days,
                        (window.end - day0).days,
                        length,
                        linked,
                        window.ADM_N,
                        window.ADM_DAYS,
                        window.ER_N,
                        window.OPC_N,
                        at_risk,
                        int(died),
                        int(imported_on is not None and window.end < imported_on),
                    )
                )
        return chunk
