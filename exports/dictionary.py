"""The data dictionary: the codebook of the analysis datasets, outside an export, for the data
manager and the ethics committee (GET /api/v1/exports/data-dictionary/, and its page link).

It is written by the codebook writer from the same dataset builders as an export, without
reading any data: the variables, labels, value labels, missing-value codes, derivations and the
rounding policy. A blinded user (anyone who may not make unblinded exports) gets the blinded
dictionary: no arm, no dataset or variable that would reveal it, and, before the lock, no group
variable either, exactly as in a blinded export."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import translation
from django.utils.translation import gettext

from datasets import datasets_for
from datasets.base import without_columns
from datasets.context import ALLOCATION_COLUMNS, ExportContext
from datasets.instruments import catalogue
from exports import selectors
from exports.models import ExportLanguage
from exports.writers import codebook
from trial.access import Viewer
from trial.errors import Forbidden, Invalid
from trial.models import DatasetLock
from trial.selectors import lock_level

FORMATS = ("csv", "html")


@dataclass(frozen=True)
class Dictionary:
    content: bytes
    content_type: str
    filename: str


def data_dictionary(
    *, user: Viewer, kind: str = "html", language: str = "en", stylesheet: str | None = None
) -> Dictionary:
    """The dictionary as the user may see it, in CSV or HTML, labels in `language`."""
    if not selectors.may_export(user):
        raise Forbidden("Only data managers and statisticians download the data dictionary.")
    if kind not in FORMATS:
        raise Invalid("Unknown format.", fields={"as": [f"Use one of {', '.join(FORMATS)}."]})
    if language not in ExportLanguage.values:
        raise Invalid(
            "Unknown language.",
            fields={"language": [f"Use one of {', '.join(ExportLanguage.values)}."]},
        )
    blinded = not selectors.may_export_unblinded(user)
    with translation.override(language):
        context = ExportContext(
            blinded=blinded,
            masking=None,  # no data is read: the masked codes are never needed
            catalogue=catalogue(),
            user=user,
            locked=lock_level() == DatasetLock.Level.LOCK,
            reads_data=False,
        )
        datasets = datasets_for(context)
        if context.withholds_allocation:
            datasets = [without_columns(d, ALLOCATION_COLUMNS) for d in datasets]
        if kind == "csv":
            return Dictionary(
                codebook.csv_text(datasets).encode("utf-8"),
                "text/csv; charset=utf-8",
                f"data-dictionary-{language}.csv",
            )
        text = codebook.html_text(
            [(dataset, None) for dataset in datasets],
            blinded=blinded,
            # Not the list of what a blinded export leaves out: naming the IMR-delivery datasets
            # to a blinded reader says more than the dictionary needs to.
            withheld=() if blinded else context.withheld,
            allocation_withheld=context.withholds_allocation,
            title=gettext("Data dictionary: analysis datasets"),
            stylesheet=stylesheet,
        )
        return Dictionary(
            text.encode("utf-8"), "text/html; charset=utf-8", f"data-dictionary-{language}.html"
        )
