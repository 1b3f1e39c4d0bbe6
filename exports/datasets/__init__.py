"""The analysis datasets of an export. To add one (responses wide, attendance and exposure,
fidelity, service use, queries...), write a builder with `name`, `reveals_allocation` and
`build(context) -> Iterable[Dataset]`, and list it here."""

from __future__ import annotations

from exports.datasets.base import Dataset, DatasetBuilder
from exports.datasets.context import ExportContext
from exports.datasets.participants import ParticipantsBuilder
from exports.datasets.responses import ResponsesLongBuilder

BUILDERS: tuple[DatasetBuilder, ...] = (
    ParticipantsBuilder(),
    ResponsesLongBuilder(),
)


def datasets_for(context: ExportContext) -> list[Dataset]:
    """Every dataset of an export, in a fixed order. Blinded exports leave out builders whose
    data would reveal the arm (group membership, attendance, fidelity)."""
    result: list[Dataset] = []
    names: set[str] = set()
    for builder in BUILDERS:
        if context.blinded and builder.reveals_allocation:
            continue
        for dataset in builder.build(context):
            if dataset.name in names:
                raise ValueError(f"Two datasets are called {dataset.name}.")
            names.add(dataset.name)
            result.append(dataset)
    return result
