"""The list of instruments. Adding an instrument = adding its module and one line here.

from instruments import registry
registry.get("PANSS").items          # Item dataclasses with labels, ranges, options
registry.all()                        # every instrument, in form order
registry.for_timepoint("post")        # the forms of a timepoint
"""

from __future__ import annotations

from instruments import (
    csq8,
    demog,
    gaf,
    hamd6,
    imrs_c,
    imrs_p,
    mhrm,
    panss,
    psp,
    service_use,
    shs,
    ymrs,
)
from instruments.base import Instrument
from trial.registry import Registry

MODULES = (demog, gaf, psp, panss, hamd6, ymrs, imrs_p, mhrm, shs, csq8, imrs_c, service_use)

_BY_CODE: dict[str, Instrument] = {}
for _module in MODULES:
    _instrument: Instrument = _module.INSTRUMENT
    if _instrument.code in _BY_CODE:
        raise ValueError(f"Two instrument modules declare {_instrument.code}.")
    _BY_CODE[_instrument.code] = _instrument


# Listed with the assessment instruments, but not forms of the registry: instruments of the
# apps above (the IMR Fidelity Scale, fidelity.instrument), registered in their
# AppConfig.ready(). They belong to IMR delivery, which blinded users find no trace of.
reference_instruments: Registry[Instrument] = Registry("reference instruments")


class UnknownInstrument(KeyError):
    pass


def get(code: str) -> Instrument:
    """The instrument with this code (instruments.json codes); UnknownInstrument otherwise."""
    try:
        return _BY_CODE[code]
    except KeyError:
        raise UnknownInstrument(code) from None


def find(code: str) -> Instrument | None:
    return _BY_CODE.get(code)


def all() -> tuple[Instrument, ...]:
    return tuple(_BY_CODE.values())


def codes() -> tuple[str, ...]:
    return tuple(_BY_CODE)


def forms() -> tuple[Instrument, ...]:
    """Instruments entered on forms (everything but register data)."""
    return tuple(i for i in _BY_CODE.values() if i.form_entry)


def for_timepoint(timepoint: str) -> tuple[Instrument, ...]:
    return tuple(i for i in _BY_CODE.values() if timepoint in i.timepoints)


def entered_by(*roles: str) -> tuple[Instrument, ...]:
    return tuple(i for i in _BY_CODE.values() if set(roles) & set(i.entered_by))
