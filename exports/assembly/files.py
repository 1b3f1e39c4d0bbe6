"""Building an export's files: read every dataset from ONE database snapshot, write each format
from the staged rows, describe everything in manifest.json, pack the archive, and publish the
directory with one atomic rename. Nothing is visible until everything is complete."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import secrets
import shutil
import time
import tomllib
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import Max
from django.utils import translation
from django.utils.translation import gettext

from datasets import datasets_for
from datasets.audit import FormAudit, form_audit
from datasets.base import Dataset, missing_codes, without_columns
from datasets.context import ALLOCATION_COLUMNS, ExportContext, Withheld
from datasets.instruments import ENGLISH, catalogue
from exports import selectors
from exports.models import ExportJob, MaskingKey
from exports.services import masking_mapping
from exports.writers import TABULAR_WRITERS, codebook, odm, syntax, transport
from exports.writers import parquet as parquet_writer
from exports.writers.base import StagedDataset, WrittenFile
from trial.models import DatasetLock
from trial.selectors import current_lock

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)

ZIP_LEVEL = 3
MANIFEST = "manifest.json"
BUILDING_PREFIX = ".building-"

logger = logging.getLogger(__name__)


class ExportRefused(Exception):
    """The export may not be made from this snapshot (e.g. no longer locked)."""


@dataclass
class BuildResult:
    directory: str
    files: list[dict[str, Any]]
    manifest: dict[str, Any]
    snapshot_at: datetime
    data_as_of: datetime | None
    lock: DatasetLock | None


@cache
def software() -> dict[str, str]:
    with open(Path(settings.BASE_DIR) / "pyproject.toml", "rb") as handle:
        version = tomllib.load(handle)["project"]["version"]
    result = {"name": "imrtrial", "version": version, "python": platform.python_version()}
    for package in ("django", "pyreadstat", "pyarrow", "pandas"):
        result[package] = metadata.version(package)
    return result


def software_version() -> str:
    return software()["version"]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def data_as_of(sources: Iterable[type[models.Model]]) -> datetime | None:
    """When the exported data last changed: the newest audit event of the source tables.
    Deterministic for the same data, unlike the time of the export."""
    wanted = set(sources)
    newest: datetime | None = None
    for model in apps.get_models():
        if getattr(model, "pgh_tracked_model", None) in wanted:
            value = model._default_manager.aggregate(newest=Max("pgh_created_at"))["newest"]
            if value and (newest is None or value > newest):
                newest = value
    return newest


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Progress:
    """Maps the stages onto 0–99: the snapshot read, then the formats by rows written."""

    READ_END = 40
    WRITE_END = 95

    def __init__(self, report: Callable[[int], None]) -> None:
        self.report = report
        self.total = 1
        self.done = 0

    def reading(self, index: int, count: int) -> None:
        self.report(2 + (self.READ_END - 2) * index // max(count, 1))

    def writing(self, total_rows: int) -> None:
        self.total = max(total_rows, 1)
        self.done = 0
        self.report(self.READ_END)

    def rows(self, count: int) -> None:
        self.done += count
        span = self.WRITE_END - self.READ_END
        self.report(self.READ_END + span * min(self.done, self.total) // self.total)


def clean_leftovers(root: Path, job_id: str) -> None:
    """Remove the half-built directories of earlier attempts of this job (a killed worker)."""
    for path in root.glob(f"{BUILDING_PREFIX}{job_id}-*"):
        shutil.rmtree(path, ignore_errors=True)


def build(job: ExportJob, *, attempt: int, report: Callable[[int], None]) -> BuildResult:
    root = Path(settings.EXPORT_ROOT)
    root.mkdir(parents=True, exist_ok=True)
    job_id = str(job.pk)
    clean_leftovers(root, job_id)
    work = root / f"{BUILDING_PREFIX}{job_id}-{attempt}-{secrets.token_hex(4)}"
    work.mkdir()
    try:
        # Labels are written in the language asked for, whatever the worker's: the same data in
        # the same language give the same bytes.
        with translation.override(job.options.get("language") or ENGLISH):
            return _build_in(job, work=work, root=root, progress=Progress(report))
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


@dataclass
class Snapshot:
    staged: list[StagedDataset]
    snapshot_at: datetime
    as_of: datetime | None
    lock: DatasetLock | None
    context: ExportContext
    locked_since: datetime | None = None  # when this data was first locked (ODM's times)
    audit: FormAudit | None = None  # the forms' audit trail, for ODM AuditRecords (an option)


def _read_snapshot(job: ExportJob, staging: Path, output: Path, progress: Progress) -> Snapshot:
    """Everything that reads the database, in one REPEATABLE READ, READ ONLY transaction:
    every dataset sees the same committed state, however long the export takes."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SELECT transaction_timestamp()")
            snapshot_at = cursor.fetchone()[0]
        lock = current_lock()
        level = lock.level if lock else DatasetLock.Level.OPEN
        if not job.blinded:
            if level != DatasetLock.Level.LOCK:
                raise ExportRefused(
                    "The database was no longer locked when the export started; unblinded "
                    "exports are only made from a locked database. Lock it and ask again."
                )
            if not selectors.may_export_unblinded(job.requested_by):
                raise ExportRefused(
                    "The person who asked no longer holds the role for unblinded exports."
                )
        masking = None
        if job.blinded:
            key = MaskingKey.objects.first()
            if key is None:
                raise ExportRefused("The masking key is missing; ask for the export again.")
            masking = masking_mapping(key)
        context = ExportContext(
            blinded=job.blinded,
            masking=masking,
            catalogue=catalogue(),
            user=job.requested_by,
            locked=level == DatasetLock.Level.LOCK,
        )
        context.load_participants()
        datasets: list[Dataset] = datasets_for(context)
        if context.withholds_allocation:
            datasets = [without_columns(d, ALLOCATION_COLUMNS) for d in datasets]
            context.withhold(
                "GROUP",
                gettext(
                    "Blinded exports made before the database is locked carry no group "
                    "variable at all; after the lock they carry the masked group code."
                ),
            )
        staged: list[StagedDataset] = []
        keep_parquet = "parquet" in job.formats
        for index, dataset in enumerate(datasets):
            progress.reading(index, len(datasets))
            folder = output if keep_parquet else staging
            item = parquet_writer.stage(dataset, folder / f"{dataset.name}.parquet", lambda n: None)
            staged.append(item)
            context.staged[dataset.name] = item.path
        sources = {model for dataset in datasets for model in dataset.sources}
        as_of = data_as_of(sources)
        locked_since = _locked_since(as_of) if level == DatasetLock.Level.LOCK else None
        audit = None
        if "odm" in job.formats and job.options.get("odm_audit_records"):
            audit = form_audit(meta.code for meta in context.instruments())
    return Snapshot(staged, snapshot_at, as_of, lock, context, locked_since, audit)


def _locked_since(as_of: datetime | None) -> datetime | None:
    """When this data was first locked: the earliest lock after its last change. Unlocking and
    locking again without a change keeps it, so the same data keeps giving the same bytes."""
    locks = DatasetLock.objects.filter(level=DatasetLock.Level.LOCK)
    if as_of is not None:
        locks = locks.filter(set_at__gte=as_of)
    first = locks.order_by("set_at", "pk").values_list("set_at", flat=True).first()
    return first


def _build_in(job: ExportJob, *, work: Path, root: Path, progress: Progress) -> BuildResult:
    output = work / "files"
    staging = work / "staging"
    output.mkdir()
    staging.mkdir()
    clock = time.perf_counter()
    seconds: dict[str, float] = {}

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[stage] = round(seconds.get(stage, 0.0) + now - clock, 3)
        clock = now

    snapshot = _read_snapshot(job, staging, output, progress)
    staged, snapshot_at, as_of, lock = (
        snapshot.staged,
        snapshot.snapshot_at,
        snapshot.as_of,
        snapshot.lock,
    )
    withheld = snapshot.context.withheld
    lap("snapshot")

    written: list[WrittenFile] = []
    if "parquet" in job.formats:
        written += [
            WrittenFile(f"{s.name}.parquet", "parquet", "data", s.name, s.rows, s.path)
            for s in staged
        ]
    tabular = [fmt for fmt in job.formats if fmt in TABULAR_WRITERS]
    per_row = len(tabular) + sum(1 for fmt in ("odm", "xpt") if fmt in job.formats)
    progress.writing(sum(s.rows for s in staged) * per_row)
    for fmt in tabular:
        for item in staged:
            written.append(TABULAR_WRITERS[fmt](item, output, progress.rows))
        if fmt == "csv":
            # The syntax files that read the CSV files with their labels, as REDCap ships.
            written += [
                syntax.spss(staged, output),
                syntax.stata(staged, output),
                syntax.r_script(staged, output),
            ]
        lap(fmt)
    if "xpt" in job.formats:
        members = transport.sas_members([item.name for item in staged])
        for item in staged:
            written.append(
                transport.write_xpt(item, output, progress.rows, member=members[item.name])
            )
        written.append(syntax.sas_program(staged, output))
        lap("xpt")
    if "odm" in job.formats:
        created, odm_as_of = odm.header_times(
            lock_set_at=snapshot.locked_since,
            snapshot_at=snapshot_at,
            as_of=as_of,
        )
        version = software_version()
        written.append(
            odm.write(
                staged,
                output,
                progress.rows,
                created=created,
                as_of=odm_as_of,
                blinded=job.blinded,
                software_version=version,
                audit=snapshot.audit,
            )
        )
        written.append(
            odm.write_define(
                staged, output, created=created, blinded=job.blinded, software_version=version
            )
        )
        lap("odm")
    written.append(
        codebook.write_html(
            staged,
            output,
            blinded=job.blinded,
            withheld=withheld,
            allocation_withheld=snapshot.context.withholds_allocation,
        )
    )
    written.append(codebook.write_csv(staged, output))
    shutil.rmtree(staging)

    files = [_describe(item) for item in sorted(written, key=lambda w: w.name)]
    lap("codebook_and_hashes")

    def write_manifest() -> None:
        # Written once the data files are packed, so that the archive lap (all but the
        # manifest's own entry) is among the stages it reports.
        lap("archive")
        manifest = _manifest(job, staged, files, snapshot, withheld)
        # How long each stage took (for operations and the benchmark); it is not data.
        manifest["build_seconds"] = dict(seconds)
        (output / MANIFEST).write_text(
            json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
        manifests.append(manifest)

    manifests: list[dict[str, Any]] = []
    archive = _archive(output, files, snapshot_at, job, sum(s.rows for s in staged), write_manifest)
    manifest = manifests[0]
    files.append(archive)
    for path in output.iterdir():
        _fsync(path)
    progress.report(99)
    logger.info("Export %s built, seconds by stage: %s", job.pk, seconds)

    directory = str(job.pk)
    final = root / directory
    if final.exists():
        # An earlier attempt published and then died before recording it: replace it.
        shutil.rmtree(final)
    os.rename(output, final)
    _fsync(root)
    shutil.rmtree(work, ignore_errors=True)
    return BuildResult(directory, files, manifest, snapshot_at, as_of, lock)


def _describe(item: WrittenFile) -> dict[str, Any]:
    return {
        "name": item.name,
        "format": item.format,
        "kind": item.kind,
        "dataset": item.dataset,
        "rows": item.rows,
        "bytes": item.path.stat().st_size,
        "sha256": _sha256(item.path),
    }


def _manifest(
    job: ExportJob,
    staged: list[StagedDataset],
    files: list[dict[str, Any]],
    snapshot: Snapshot,
    withheld: list[Withheld],
) -> dict[str, Any]:
    user = job.requested_by
    lock = snapshot.lock
    lock_info: dict[str, Any] = {"level": lock.level if lock else DatasetLock.Level.OPEN}
    if lock is not None:
        lock_info |= {
            "log_id": lock.pk,
            "set_at": _iso(lock.set_at),
            "set_by": lock.set_by.get_username(),
            "reason": lock.reason,
            "open_queries_override": lock.open_queries_override,
        }
    return {
        "manifest_version": 1,
        "export_id": str(job.pk),
        "requested_by": {"id": user.pk, "username": user.get_username()},
        "requested_at": _iso(job.requested_at),
        "snapshot_at": _iso(snapshot.snapshot_at),
        "data_as_of": _iso(snapshot.as_of),
        "lock": lock_info,
        "blinded": job.blinded,
        "allocation_variable": _allocation_variable(job, snapshot.context),
        "formats": list(job.formats),
        "software": software(),
        "datasets": [
            {
                "name": item.name,
                "label": item.dataset.label,
                "rows": item.rows,
                "variables": [column.name for column in item.columns],
            }
            for item in staged
        ],
        "files": [dict(entry) for entry in files],
        "missing_value_codes": [
            {"code": m.code, "reason": m.reason, "label": m.label, "stata": f".{m.stata}"}
            for m in missing_codes()
        ],
        "withheld": [{"what": note.what, "why": note.why} for note in withheld],
        "not_exported": dict(sorted(snapshot.context.not_exported.items())),
        "cpr_redactions": snapshot.context.redactions,
    }


def _allocation_variable(job: ExportJob, context: ExportContext) -> str:
    if context.withholds_allocation:
        return "none (blinded export before the lock)"
    return "GROUP (masked; key sealed in the EDC)" if job.blinded else "ARM"


def _pack(archive: zipfile.ZipFile, source: Path) -> None:
    info = zipfile.ZipInfo(source.name, date_time=ZIP_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    # ZipFile.write() sets this slot from ZipFile(compresslevel=...); an entry written
    # through a ZipInfo of our own (for its fixed date) has to carry it itself.
    info._compresslevel = ZIP_LEVEL  # type: ignore[attr-defined]
    info.external_attr = 0o644 << 16
    info.create_system = 3
    size = source.stat().st_size
    with (
        open(source, "rb") as reader,
        archive.open(info, "w", force_zip64=size > (1 << 31)) as writer,
    ):
        shutil.copyfileobj(reader, writer, 1 << 20)


def _archive(
    output: Path,
    files: list[dict[str, Any]],
    snapshot_at: datetime,
    job: ExportJob,
    rows: int,
    write_manifest: Callable[[], None],
) -> dict[str, Any]:
    """Every file and, last, the manifest (written by `write_manifest` once the others are
    packed) in one zip. Fixed entry times and attributes: only the manifest (which says when)
    differs between two exports of the same data."""
    name = f"imrtrial-export-{snapshot_at:%Y%m%d}-{str(job.pk)[:8]}.zip"
    path = output / name
    # Deflate level 3: about twice as fast as the default level on these files, for archives
    # some 40 % larger; the build time matters more than the download size here.
    with zipfile.ZipFile(path, "w") as archive:
        for member in sorted(entry["name"] for entry in files):
            _pack(archive, output / member)
        write_manifest()
        _pack(archive, output / MANIFEST)
    return {
        "name": name,
        "format": "zip",
        "kind": "archive",
        "dataset": "",
        "rows": rows,  # of all datasets
        "bytes": path.stat().st_size,
        "sha256": _sha256(path),
    }
