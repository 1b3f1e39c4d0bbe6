"""Allocation lists: generation, import and extension (the reads are in list_reads.py). Only
a statistician without a blinded role (or the server's operator, through a management
command) may do any of this, and every action leaves a row in the randomisation log."""

from __future__ import annotations

import hashlib
import platform
import secrets
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Max
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from randomization import generator, listfile
from randomization.generator import Slot
from randomization.log import Kind, log_event
from randomization.models import AllocationList, AllocationSlot, SiteSequence
from trial import access
from trial.access import Viewer
from trial.audit import audit_context
from trial.errors import Conflict, Forbidden, Invalid, TrialError
from trial.models import Site
from trial.roles import Role
from trial.sealing import seal
from trial.selectors import lock_level

MAX_PER_SITE = 10_000
SOFTWARE = "IMR trial EDC 1.0.0"


def is_list_custodian(user: Viewer) -> bool:
    """A statistician who holds no blinded role and does not enrol (no coordinator role)."""
    return (
        access.has_role(user, Role.STATISTICIAN)
        and access.may_see_allocation(user)
        and not access.has_role(user, Role.COORDINATOR)
    )


def require_list_custodian(user: Viewer | None, *, channel: str) -> None:
    """Statisticians hold the lists. A management command run on the server without --by is
    allowed (shell access is the gate there) and is logged with the operating-system user."""
    if user is None and channel == "cli":
        return
    if user is None or not access.has_role(user, Role.STATISTICIAN):
        raise Forbidden(_("Only a statistician can work with allocation lists."))
    if not access.may_see_allocation(user):
        raise Forbidden(
            _(
                "You hold a blinded role as well as the statistician role, so you cannot "
                "work with allocation lists."
            )
        )
    if access.has_role(user, Role.COORDINATOR):
        raise Forbidden(
            _(
                "You also hold the coordinator role: the list custodian does not enrol, "
                "so you cannot work with allocation lists."
            )
        )


def _refuse_unless_open(action: str | Promise) -> None:
    level = lock_level()
    if level != "open":
        state = _("locked") if level == "lock" else _("frozen")
        raise Conflict(
            _("The trial database is {state}: allocation lists cannot be {action}.").format(
                state=state,
                action=action,
            )
        )


def _resolve_sites(codes: Iterable[str] | None) -> tuple[list[Site], list[str]]:
    if codes is None:
        return list(Site.objects.order_by("number")), []
    wanted = []
    for code in codes:
        cleaned = code.strip().upper()
        if cleaned and cleaned not in wanted:
            wanted.append(cleaned)
    sites = list(Site.objects.filter(code__in=wanted).order_by("number"))
    unknown = [code for code in wanted if code not in {s.code for s in sites}]
    return sites, unknown


def _lock_sites(sites: Sequence[Site]) -> None:
    """Take the site rows' randomisation lock, so that list writes and randomisations at a
    site never interleave (a randomisation holds the same lock)."""
    SiteSequence.objects.bulk_create(
        [SiteSequence(site=site) for site in sites], ignore_conflicts=True
    )
    list(
        SiteSequence.objects.select_for_update()
        .filter(site__in=[s.pk for s in sites])
        .order_by("site_id")
    )


def _site_states(sites: Sequence[Site]) -> dict[str, listfile.SiteState]:
    found = {
        row["site_id"]: row
        for row in AllocationSlot.objects.filter(site__in=sites)
        .values("site_id")
        .annotate(last_sequence=Max("sequence"), last_block=Max("block"))
    }
    states = {}
    for site in sites:
        row = found.get(site.pk)
        states[site.code] = (
            listfile.SiteState(row["last_sequence"], row["last_block"])
            if row
            else listfile.SiteState()
        )
    return states


def _store_version(
    *,
    site: Site,
    slots: list[Slot],
    source: str,
    seed: int | None,
    parameters: dict[str, Any],
    user: Viewer | None,
) -> AllocationList:
    version = (AllocationList.objects.filter(site=site).aggregate(v=Max("version"))["v"] or 0) + 1
    allocation_list = AllocationList.objects.create(
        site=site,
        version=version,
        source=source,
        first_sequence=slots[0].sequence,
        length=len(slots),
        sha256=generator.list_sha256(slots),
        seed_sealed=seal("seed", generator.seed_to_hex(seed)) if seed is not None else "",
        parameters=parameters,
        created_by=user if isinstance(user, User) else None,
    )
    AllocationSlot.objects.bulk_create(
        [
            AllocationSlot(
                allocation_list=allocation_list,
                site=site,
                sequence=slot.sequence,
                block=slot.block,
                block_size=slot.block_size,
                arm_sealed=seal("arm", slot.arm),
            )
            for slot in slots
        ],
        batch_size=2000,
    )
    return allocation_list


def actor_name(user: Viewer | None) -> str:
    if user is not None and user.pk:
        return str(user.get_username())
    import getpass

    return f"os:{getpass.getuser()}"


def _log_refusal(error: TrialError, *, user: Viewer | None, channel: str, action: str) -> None:
    messages = error.fields or {"detail": [error.message]}
    log_event(
        Kind.LIST_REFUSED,
        user=user,
        channel=channel,
        message=f"{action} refused: {error.message}",
        detail={"action": action, "errors": messages},
    )


def allocation_lists_generate(
    *,
    per_site: int,
    site_codes: Sequence[str] | None = None,
    user: Viewer | None = None,
    extend: bool = False,
    reason: str = "",
    channel: str = "cli",
    randbits: Callable[[int], int] = secrets.randbits,
) -> list[AllocationList]:
    """Generate a list (or, with `extend`, append complete blocks) for each site from one
    fresh 128-bit seed; each site is its own stream. Never overwrites: a site that has a list
    is refused unless this is an explicit, reasoned extension."""
    require_list_custodian(user, channel=channel)
    reason = (reason or "").strip()
    try:
        errors: dict[str, list[str | Promise]] = {}
        if isinstance(per_site, bool) or not isinstance(per_site, int) or per_site < 1:
            errors["per_site"] = [
                _("Give the number of slots per site as a positive whole number.")
            ]
        elif per_site > MAX_PER_SITE:
            errors["per_site"] = [
                _("At most {MAX_PER_SITE} slots per site at a time.").format(
                    MAX_PER_SITE=MAX_PER_SITE,
                )
            ]
        sites, unknown = _resolve_sites(site_codes)
        if unknown:
            errors["sites"] = [_("Unknown site(s): {join}.").format(join=", ".join(unknown))]
        elif not sites:
            errors["sites"] = [_("Name at least one site.")]
        if extend and not reason:
            errors["reason"] = [_("Extending a list needs a reason (e.g. the list ran out).")]
        if errors:
            raise Invalid(_("The request to generate lists has errors."), fields=errors)
        _refuse_unless_open(_("generated"))
        with (
            transaction.atomic(),
            audit_context(user=user, reason=reason or "Allocation lists generated"),
        ):
            _lock_sites(sites)
            states = _site_states(sites)
            existing = [s.code for s in sites if states[s.code].has_list]
            if existing and not extend:
                raise Conflict(
                    ngettext(
                        "{sites} already has an allocation list; generating again would "
                        "overwrite it. Nothing was written. To append complete blocks, extend "
                        "the list explicitly (with a reason).",
                        "{sites} already have allocation lists; generating again would "
                        "overwrite them. Nothing was written. To append complete blocks, extend "
                        "the lists explicitly (with a reason).",
                        len(existing),
                    ).format(sites=", ".join(existing))
                )
            empty = [s.code for s in sites if not states[s.code].has_list]
            if extend and empty:
                raise Invalid(
                    ngettext(
                        "{sites} has no allocation list to extend.",
                        "{sites} have no allocation list to extend.",
                        len(empty),
                    ).format(sites=", ".join(empty)),
                    fields={
                        "sites": [_("No list to extend at {join}.").format(join=", ".join(empty))]
                    },
                )
            seed = generator.draw_seed(randbits)
            run = str(uuid.uuid4())
            created = []
            for site in sites:
                state = states[site.code]
                slots = generator.generate_list(
                    seed=seed,
                    stratum=site.code,
                    min_length=per_site,
                    first_block=state.last_block + 1,
                    first_sequence=state.last_sequence + 1,
                )
                parameters = {
                    "method": "generated",
                    "algorithm": generator.ALGORITHM,
                    "algorithm_version": generator.ALGORITHM_VERSION,
                    "block_sizes": list(generator.BLOCK_SIZES),
                    "block_size_rule": "uniform and independent for each block",
                    "ratio": "1:1",
                    "arms": list(generator.ARMS),
                    "stratum": site.code,
                    "first_block": slots[0].block,
                    "last_block": slots[-1].block,
                    "requested_length": per_site,
                    "seed_commitment": generator.seed_commitment(seed),
                    "run": run,
                    "software": SOFTWARE,
                    "python": platform.python_version(),
                    "generated_by": actor_name(user),
                    "reason": reason,
                }
                allocation_list = _store_version(
                    site=site,
                    slots=slots,
                    source=AllocationList.Source.EXTENSION
                    if extend
                    else AllocationList.Source.GENERATED,
                    seed=seed,
                    parameters=parameters,
                    user=user,
                )
                log_event(
                    Kind.LIST_EXTENDED if extend else Kind.LIST_GENERATED,
                    user=user,
                    channel=channel,
                    site=site,
                    allocation_list=allocation_list,
                    message=(
                        f"{site.code} v{allocation_list.version} "
                        f"{'extended' if extend else 'generated'}; SHA-256 {allocation_list.sha256}"
                    ),
                    detail={
                        "version": allocation_list.version,
                        "sha256": allocation_list.sha256,
                        "seed_commitment": parameters["seed_commitment"],
                        "run": run,
                        "reason": reason,
                    },
                )
                created.append(allocation_list)
            return created
    except TrialError as error:
        _log_refusal(error, user=user, channel=channel, action="Generation")
        raise


def allocation_list_import(
    *,
    data: bytes | str,
    user: Viewer | None,
    extend: bool = False,
    reason: str = "",
    channel: str = "web",
    filename: str = "",
) -> list[AllocationList]:
    """Import an externally generated list: all of it, or (with every reason, by line) none."""
    require_list_custodian(user, channel=channel)
    reason = (reason or "").strip()
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    try:
        if extend and not reason:
            raise Invalid(
                _("Extending a list needs a reason."),
                fields={"reason": [_("Extending a list needs a reason (e.g. the list ran out).")]},
            )
        try:
            rows = listfile.parse(raw)
        except listfile.ListFileRefused as refused:
            raise Invalid(
                _("The list file was refused."), fields={"file": refused.errors}
            ) from None
        _refuse_unless_open(_("imported"))
        grouped = listfile.by_site(rows)
        with transaction.atomic(), audit_context(user=user, reason=reason or "List imported"):
            sites = list(Site.objects.filter(code__in=list(grouped)).order_by("number"))
            _lock_sites(sites)
            try:
                listfile.check_import(
                    rows,
                    known_sites=Site.objects.values_list("code", flat=True),
                    states=_site_states(sites),
                    extend=extend,
                )
            except listfile.ListFileRefused as refused:
                raise Invalid(
                    _("The list file was refused; nothing was imported."),
                    fields={"file": refused.errors},
                ) from None
            file_sha256 = hashlib.sha256(raw).hexdigest()
            created = []
            for site in sites:
                slots = [row.slot() for row in grouped[site.code]]
                parameters = {
                    "method": "imported",
                    "block_sizes": sorted({s.block_size for s in slots}),
                    "ratio": "1:1",
                    "arms": list(generator.ARMS),
                    "stratum": site.code,
                    "first_block": slots[0].block,
                    "last_block": slots[-1].block,
                    "filename": filename[:200],
                    "file_sha256": file_sha256,
                    "imported_by": actor_name(user),
                    "reason": reason,
                }
                allocation_list = _store_version(
                    site=site,
                    slots=slots,
                    source=AllocationList.Source.EXTENSION
                    if extend
                    else AllocationList.Source.IMPORTED,
                    seed=None,
                    parameters=parameters,
                    user=user,
                )
                log_event(
                    Kind.LIST_EXTENDED if extend else Kind.LIST_IMPORTED,
                    user=user,
                    channel=channel,
                    site=site,
                    allocation_list=allocation_list,
                    message=(
                        f"{site.code} v{allocation_list.version} imported"
                        f"{' as an extension' if extend else ''}; SHA-256 {allocation_list.sha256}"
                    ),
                    detail={
                        "version": allocation_list.version,
                        "sha256": allocation_list.sha256,
                        "file_sha256": file_sha256,
                        "filename": filename[:200],
                        "reason": reason,
                    },
                )
                created.append(allocation_list)
            return created
    except TrialError as error:
        _log_refusal(error, user=user, channel=channel, action="Import")
        raise
