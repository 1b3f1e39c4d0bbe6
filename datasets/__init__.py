"""The analysis datasets of an export, one builder each, in the order of the files. To add one,
write a builder with `name`, `reveals_allocation` (and then `withheld_why`) and
`build(context) -> Iterable[Dataset]`, and list it here."""

from __future__ import annotations

from datasets.base import Dataset, DatasetBuilder
from datasets.blinding import BlindingBuilder
from datasets.context import ExportContext
from datasets.imr import AttendanceBuilder, ExposureBuilder, FidelityBuilder
from datasets.participants import ParticipantsBuilder
from datasets.queries import QueriesBuilder
from datasets.responses import ResponsesLongBuilder
from datasets.service_use import ServiceUseBuilder
from datasets.signatures import SignaturesBuilder
from datasets.wide import ResponsesWideBuilder

BUILDERS: tuple[DatasetBuilder, ...] = (
    ParticipantsBuilder(),
    ResponsesLongBuilder(),
    # After the long files: it is arranged from them (context.staged).
    ResponsesWideBuilder(),
    ServiceUseBuilder(),
    QueriesBuilder(),
    SignaturesBuilder(),
    AttendanceBuilder(),
    ExposureBuilder(),
    FidelityBuilder(),
    BlindingBuilder(),
)


def datasets_for(context: ExportContext) -> list[Dataset]:
    """Every dataset of an export, in a fixed order. Blinded exports leave out the builders
    whose data would reveal the arm, and say so (context.withheld)."""
    result: list[Dataset] = []
    names: set[str] = set()
    for builder in BUILDERS:
        if context.blinded and builder.reveals_allocation:
            why = getattr(builder, "withheld_why", "Reveals the arm; unblinded exports only.")
            context.withhold(builder.name, why)
            continue
        for dataset in builder.build(context):
            if dataset.name in names:
                raise ValueError(f"Two datasets are called {dataset.name}.")
            names.add(dataset.name)
            result.append(dataset)
    return result
