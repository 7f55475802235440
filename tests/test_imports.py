"""Importing the CLI stays light: heavy libraries load only in the commands that use them."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("matplotlib", "docker", "gitlab", "git", "numpy", "jsonschema", "aiohttp", "psutil",
         "pynvml", "tabulate")


def test_cli_import_loads_no_heavy_module() -> None:
    code = (
        "import sys, json, benchtrail.cli; "
        f"print(json.dumps(sorted(m for m in {list(HEAVY)!r} if m in sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []


def test_help_loads_no_heavy_module() -> None:
    code = (
        "import sys, json\n"
        "from benchtrail.cli import cli\n"
        "try:\n    cli.main(['run', '--help'], standalone_mode=False)\nexcept SystemExit:\n    pass\n"
        f"print(json.dumps(sorted(m for m in {list(HEAVY)!r} if m in sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout.splitlines()[-1]) == []
