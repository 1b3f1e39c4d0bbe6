from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.factories import make_staff
from trial.roles import Role


@dataclass
class Staff:
    coordinator: Any  # BAL
    instructor: Any  # BAL
    instructor2: Any  # BAL
    instructor3: Any  # BAL
    instructor_gla: Any
    rater1: Any
    rater2: Any
    rater3: Any
    statistician: Any
    clinician: Any  # BAL
    assessor: Any  # BAL
    data_manager: Any
    monitor: Any
    admin: Any
    blinded_coordinator: Any  # coordinator and assessor at BAL: blinded wins

    @property
    def blinded(self) -> list[Any]:
        return [
            self.assessor,
            self.data_manager,
            self.monitor,
            self.admin,
            self.blinded_coordinator,
        ]


@pytest.fixture
def staff(sites: dict) -> Staff:
    return Staff(
        coordinator=make_staff("coord-bal", Role.COORDINATOR, sites=["BAL"]),
        instructor=make_staff("instr-bal", Role.INSTRUCTOR, sites=["BAL"]),
        instructor2=make_staff("instr2-bal", Role.INSTRUCTOR, sites=["BAL"]),
        instructor3=make_staff("instr3-bal", Role.INSTRUCTOR, sites=["BAL"]),
        instructor_gla=make_staff("instr-gla", Role.INSTRUCTOR, sites=["GLA"]),
        rater1=make_staff("rater-a", Role.FIDELITY_RATER),
        rater2=make_staff("rater-b", Role.FIDELITY_RATER),
        rater3=make_staff("rater-c", Role.FIDELITY_RATER),
        statistician=make_staff("stat", Role.STATISTICIAN),
        clinician=make_staff("clin-bal", Role.CLINICIAN, sites=["BAL"]),
        assessor=make_staff("assess-bal", Role.ASSESSOR, sites=["BAL"]),
        data_manager=make_staff("dm", Role.DATA_MANAGER),
        monitor=make_staff("mon", Role.MONITOR),
        admin=make_staff("adm", Role.ADMIN),
        blinded_coordinator=make_staff(
            "coord-assess-bal", Role.COORDINATOR, Role.ASSESSOR, sites=["BAL"]
        ),
    )
