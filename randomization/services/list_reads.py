"""Audited reads of the allocation lists: a list version in canonical CSV, a seed, the
trial-master-file package, and verification against a file. Only the list custodian (a
statistician without a blinded role, or the server's operator through a command) reads, and
every read leaves a row in the randomisation log."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from randomization import generator, listfile
from randomization.generator import Slot
from randomization.log import Kind, log_event
from randomization.models import AllocationList, AllocationSlot
from randomization.services.lists import actor_name, require_list_custodian
from trial.access import Viewer
from trial.errors import Conflict, NotFound
from trial.models import Site
from trial.sealing import unseal


def stored_slots(allocation_list: AllocationList | None = None, *, sites: Any = None) -> list[Slot]:
    """Decrypted slots: of one list version, or of whole sites. Callers are the audited reads
    below and nothing else."""
    queryset = AllocationSlot.objects.order_by("site__number", "sequence")
    if allocation_list is not None:
        queryset = queryset.filter(allocation_list=allocation_list)
    if sites is not None:
        queryset = queryset.filter(site__in=sites)
    # Plain values, not a model instance per slot (a list holds thousands).
    return [
        Slot(code, sequence, block, block_size, unseal("arm", sealed))
        for code, sequence, block, block_size, sealed in queryset.values_list(
            "site__code", "sequence", "block", "block_size", "arm_sealed"
        )
    ]


def _checked_csv(allocation_list: AllocationList) -> bytes:
    data = generator.canonical_csv(stored_slots(allocation_list))
    if hashlib.sha256(data).hexdigest() != allocation_list.sha256:
        raise Conflict(
            _(
                "The stored list {code} v{version} does not match its recorded SHA-256. "
                "Stop randomising and contact the trial unit."
            ).format(
                code=allocation_list.site.code,
                version=allocation_list.version,
            )
        )
    return data


def allocation_list_get(*, user: Viewer, pk: Any, channel: str) -> AllocationList:
    require_list_custodian(user, channel=channel)
    try:
        return AllocationList.objects.select_related("site", "created_by").get(pk=int(pk))
    except (AllocationList.DoesNotExist, ValueError, TypeError):
        raise NotFound(_("No such allocation list.")) from None


def allocation_list_csv(*, allocation_list: AllocationList, user: Viewer, channel: str) -> bytes:
    """The list version in canonical CSV (its SHA-256 is the stored hash). Audited."""
    require_list_custodian(user, channel=channel)
    data = _checked_csv(allocation_list)
    log_event(
        Kind.LIST_DOWNLOADED,
        user=user,
        channel=channel,
        site=allocation_list.site,
        allocation_list=allocation_list,
        message=f"{allocation_list.site.code} v{allocation_list.version} read",
        detail={"version": allocation_list.version, "sha256": allocation_list.sha256},
    )
    return data


def allocation_list_seed(*, allocation_list: AllocationList, user: Viewer, channel: str) -> str:
    """The generator seed (32 hex digits) of a generated list version. Audited."""
    require_list_custodian(user, channel=channel)
    if not allocation_list.seed_sealed:
        raise NotFound(_("This list was imported: the EDC holds no seed for it."))
    seed_hex = unseal("seed", allocation_list.seed_sealed)
    log_event(
        Kind.SEED_DOWNLOADED,
        user=user,
        channel=channel,
        site=allocation_list.site,
        allocation_list=allocation_list,
        message=f"Seed of {allocation_list.site.code} v{allocation_list.version} read",
        detail={"version": allocation_list.version},
    )
    return seed_hex


def _zip_entry(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=(2011, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def trial_master_file_package(*, user: Viewer, channel: str) -> bytes:
    """Every list version in canonical CSV, the seeds, and a manifest with hashes and
    parameters, as one zip for the trial master file. Audited as one read."""
    require_list_custodian(user, channel=channel)
    # One version at a time: a list that fails its hash check stops the package at once
    # (409), and the versions are never all in memory.
    lists = (
        AllocationList.objects.select_related("site", "created_by")
        .order_by("site__number", "version")
        .iterator(chunk_size=100)
    )
    if not AllocationList.objects.exists():
        raise NotFound(_("There are no allocation lists yet."))
    manifest: dict[str, Any] = {
        "generated_at": timezone.now().isoformat(),
        "generated_for": actor_name(user),
        "algorithm_reference": "docs/randomisation.md",
        "lists": [],
    }
    versions: list[list[Any]] = []
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for allocation_list in lists:
            versions.append([allocation_list.site.code, allocation_list.version])
            stem = f"{allocation_list.site.code}_v{allocation_list.version}"
            _zip_entry(archive, f"{stem}.csv", _checked_csv(allocation_list))
            seed_hex = (
                unseal("seed", allocation_list.seed_sealed) if allocation_list.seed_sealed else ""
            )
            if seed_hex:
                _zip_entry(archive, f"{stem}.seed.txt", (seed_hex + "\n").encode())
            manifest["lists"].append(
                {
                    "file": f"{stem}.csv",
                    "site": allocation_list.site.code,
                    "version": allocation_list.version,
                    "source": allocation_list.source,
                    "first_sequence": allocation_list.first_sequence,
                    "length": allocation_list.length,
                    "sha256": allocation_list.sha256,
                    "seed_file": f"{stem}.seed.txt" if seed_hex else None,
                    "parameters": allocation_list.parameters,
                    "created_at": allocation_list.created_at.isoformat(),
                    "created_by": allocation_list.created_by.get_username()
                    if allocation_list.created_by
                    else allocation_list.parameters.get("generated_by", ""),
                }
            )
        _zip_entry(
            archive, "manifest.json", json.dumps(manifest, indent=2, sort_keys=True).encode()
        )
    log_event(
        Kind.PACKAGE_DOWNLOADED,
        user=user,
        channel=channel,
        message=f"Trial master file package read ({len(versions)} list versions, with seeds)",
        detail={"versions": versions},
    )
    return buffer.getvalue()


@dataclass
class Verification:
    matches: bool
    errors: list[str] = field(default_factory=list)
    versions: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"matches": self.matches, "errors": self.errors, "versions": self.versions}


def allocation_list_verify(
    *, data: bytes | str, user: Viewer, channel: str, filename: str = ""
) -> Verification:
    """Compare a file with the stored list. The file must consist of whole list versions; each
    is reported as matching (same rows, and the stored hash re-computed from the stored slots)
    or not, with the differing lines. Audited, whatever the outcome."""
    require_list_custodian(user, channel=channel)
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    try:
        rows = listfile.parse(raw)
    except listfile.ListFileRefused as refused:
        result = Verification(False, refused.errors)
    else:
        result = _verify_rows(rows)
    log_event(
        Kind.LIST_VERIFIED,
        user=user,
        channel=channel,
        message=(
            "List verified against a file: "
            + ("it matches" if result.matches else f"{len(result.errors)} problem(s)")
        ),
        detail={
            "matches": result.matches,
            "file_sha256": hashlib.sha256(raw).hexdigest(),
            "filename": filename[:200],
            "versions": result.versions,
            "errors": result.errors[: listfile.MAX_REPORTED],
        },
    )
    return result


def _verify_rows(rows: list[listfile.Row]) -> Verification:
    errors: list[str] = []
    grouped = listfile.by_site(rows)
    sites = {s.code: s for s in Site.objects.filter(code__in=list(grouped))}
    for code in grouped:
        if code not in sites:
            errors.append(f"line {grouped[code][0].line}: unknown site {code!r}.")
    seen: dict[tuple[str, int], int] = {}
    for row in rows:
        key = (row.site, row.sequence)
        if key in seen:
            errors.append(
                f"line {row.line}: {row.site} sequence {row.sequence} appears again "
                f"(first on line {seen[key]})."
            )
        seen.setdefault(key, row.line)
    stored_by_site: dict[str, dict[int, Slot]] = {}
    for slot in stored_slots(sites=list(sites.values())):
        stored_by_site.setdefault(slot.site, {})[slot.sequence] = slot
    errors.extend(listfile.compare(rows, stored_by_site))

    versions: list[dict[str, Any]] = []
    for code, site in sites.items():
        in_file = {r.sequence for r in grouped[code]}
        for allocation_list in AllocationList.objects.filter(site=site).order_by("version"):
            span = set(
                range(
                    allocation_list.first_sequence,
                    allocation_list.first_sequence + allocation_list.length,
                )
            )
            covered = in_file & span
            if not covered:
                continue
            if covered != span:
                errors.append(
                    f"{code}: the file holds {len(covered)} of the {allocation_list.length} "
                    f"rows of list version {allocation_list.version}; verify whole versions."
                )
                continue
            stored = generator.canonical_csv(
                [stored_by_site[code][n] for n in sorted(span) if n in stored_by_site[code]]
            )
            intact = hashlib.sha256(stored).hexdigest() == allocation_list.sha256
            if not intact:
                errors.append(
                    f"{code} v{allocation_list.version}: the stored slots no longer match the "
                    "stored SHA-256."
                )
            in_span = sorted(
                (r.slot() for r in grouped[code] if r.sequence in span), key=lambda s: s.sequence
            )
            file_sha256 = generator.list_sha256(in_span)
            versions.append(
                {
                    "site": code,
                    "version": allocation_list.version,
                    "sha256": allocation_list.sha256,
                    "file_sha256": file_sha256,
                    "matches": intact and file_sha256 == allocation_list.sha256,
                }
            )
    if not versions and not errors:
        errors.append("The file holds no rows of any stored list.")
    return Verification(not errors, errors, versions)
