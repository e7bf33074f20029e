"""The README's commands match the code they describe."""

import os
import re
import subprocess
import sys

from conftest import ROOT

SCRIPTS = ("main_task", "predict")


def modules_imported_by(script):
    """Python's own account of the checkout's modules a script imports, in a fresh interpreter."""
    code = (f"import os, sys, {script}; print(' '.join(os.path.basename(m.__file__) "
            "for m in list(sys.modules.values()) if getattr(m, '__file__', None) "
            f"and os.path.dirname(os.path.abspath(m.__file__)) == {ROOT!r}))")
    return set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                              check=True).stdout.split())


def test_the_dataproc_command_ships_every_module_the_jobs_import():
    with open(os.path.join(ROOT, "README.md")) as f:
        listed = re.search(r"--py-files=(\S+)", f.read()).group(1).split(",")
    imported = set().union(*map(modules_imported_by, SCRIPTS)) - {f"{script}.py" for script in SCRIPTS}
    assert sorted(listed) == sorted(imported)


def test_the_modules_the_job_ships_are_those_the_dataproc_command_lists():
    import spark_setup
    with open(os.path.join(ROOT, "README.md")) as f:
        listed = re.search(r"--py-files=(\S+)", f.read()).group(1).split(",")
    assert sorted(f"{name}.py" for name in spark_setup.HELPER_MODULES) == sorted(listed)


def test_the_results_tables_options_are_the_options_of_their_full_commands():
    import main_task
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    table = readme[readme.index("| run | options"):readme.index("Each row's run, in full")]
    rows = {line.split("|")[1].split(":")[0].strip(): re.findall(r"`(--[^`]+)`", line.split("|")[2])
            for line in table.splitlines() if line.startswith("| ") and "`--" in line.split("|")[2]}
    assert set(rows) == {"one hidden layer", "best recipe"}
    commands = readme[readme.index("Each row's run, in full"):]
    for name, (options,) in rows.items():
        # The row's command: the lines after its "# name" comment, joined.
        command = re.search(rf"# {name}\n(.*?)(?:\n#|\n```)", commands, re.S).group(1).replace("\\\n", " ")
        assert command.split()[-len(options.split()):] == options.split(), name
        paths = [f"{i}.csv" for i in range(4)]
        parsed = main_task.parse_args([*paths, "out", *options.split()])  # every option known and valid
        assert parsed.seed == 42 and (name != "best recipe" or parsed.validation_fraction > 0)
