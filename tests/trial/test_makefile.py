"""`make run`'s first steps: a setting given for one run (`DATABASE_URL=... make run`) is kept
in .env, so that the commands the README gives afterwards (`manage.py demo_totp ...`) use the
same database; pip is run without this machine's configuration (missing mirrors) and without
the root warning."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

MAKEFILE = Path(__file__).resolve().parents[2] / "Makefile"


def make(directory: Path, *args: str, **env: str) -> str:
    run = subprocess.run(
        ["make", "--no-print-directory", "-C", str(directory), *args],
        env={"PATH": os.environ["PATH"], "HOME": str(directory), **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return run.stdout


def test_a_database_given_for_one_run_is_kept_for_the_commands_after_it(tmp_path: Path) -> None:
    shutil.copy(MAKEFILE, tmp_path / "Makefile")
    env_file = tmp_path / ".env"
    env_file.write_text("DEBUG=true\nDATABASE_URL=postgres://root@127.0.0.1:5432/imr\n")
    other = "postgres://root@127.0.0.1:5432/other"
    said = make(tmp_path, "install", "UV=true", DATABASE_URL=other)
    assert "Kept DATABASE_URL in .env" in said
    lines = env_file.read_text().splitlines()
    assert f"DATABASE_URL={other}" in lines and "DEBUG=true" in lines
    assert sum(line.startswith("DATABASE_URL=") for line in lines) == 1
    assert env_file.stat().st_mode & 0o077 == 0  # it holds secrets
    # The same again changes nothing and says nothing.
    assert "Kept" not in make(tmp_path, "install", "UV=true", DATABASE_URL=other)


def test_pip_runs_without_the_machines_configuration_or_the_root_warning(tmp_path: Path) -> None:
    shutil.copy(MAKEFILE, tmp_path / "Makefile")
    (tmp_path / ".env").write_text("DEBUG=true\n")
    shown = make(
        tmp_path,
        "--eval",
        "show-pip: ; @echo $$PIP_CONFIG_FILE $$PIP_ROOT_USER_ACTION",
        "show-pip",
    )
    assert shown.split() == ["/dev/null", "ignore"]
