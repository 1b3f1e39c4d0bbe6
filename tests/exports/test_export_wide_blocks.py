"""The wide file is arranged a block of participants at a time, reading the staged long files
alongside: with blocks of two participants and long files read three rows at a time, it holds
exactly the rows it holds when everyone fits in one block, and those of the database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from datasets import wide
from instruments import registry
from tests.exports import expected, readback
from tests.exports.trial import build_trial, lock, new_job, run_inline

pytestmark = pytest.mark.django_db(transaction=True)


def wide_table(job: Any, root: Path) -> Any:
    return pq.read_table(root / job.directory / "responses_wide.parquet")


def test_the_wide_file_built_in_small_blocks_is_the_wide_file(
    statistician: Any, dm: Any, export_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_trial()
    lock(dm)
    whole = run_inline(new_job(statistician, blinded=False, formats=["parquet"]))
    monkeypatch.setattr(wide, "BATCH", 2)
    monkeypatch.setattr(wide, "BATCH_ROWS", 3)
    blocks = run_inline(new_job(statistician, blinded=False, formats=["parquet"]))
    assert whole.status == blocks.status == "done", blocks.error
    table = wide_table(blocks, export_root)
    assert table.num_rows > 4  # several blocks
    assert table.equals(wide_table(whole, export_root))
    _, rows, _ = readback.read_parquet(export_root / blocks.directory / "responses_wide.parquet")
    assert rows == expected.wide_rows(None, [i.code for i in registry.forms()])
