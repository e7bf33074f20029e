"""The README's commands match the code they describe."""

import os
import re
import subprocess
import sys

from conftest import ROOT


def test_the_dataproc_command_ships_every_module_the_job_imports():
    with open(os.path.join(ROOT, "README.md")) as f:
        listed = re.search(r"--py-files=(\S+)", f.read()).group(1).split(",")
    # Python's own account of what main_task.py imports from this checkout, in a fresh interpreter.
    found = subprocess.run(
        [sys.executable, "-c", "import os, sys, main_task; print(' '.join(sorted(os.path.basename(m.__file__) "
                               "for m in list(sys.modules.values()) if getattr(m, '__file__', None) "
                               f"and os.path.dirname(os.path.abspath(m.__file__)) == {ROOT!r})))"],
        capture_output=True, text=True, cwd=ROOT, check=True).stdout.split()
    assert sorted(listed) == sorted(set(found) - {"main_task.py"})
