"""The README's and docs/' commands match the code they describe."""

import os
import re
import subprocess
import sys

from conftest import ROOT

SCRIPTS = ("main_task", "predict")


def modules_imported_by(script):
    """Python's own account of the job's modules (rddnet's and nn_math) a script imports, in a fresh
    interpreter."""
    code = (f"import sys, {script}; print(' '.join(name for name in sorted(sys.modules) "
            "if name == 'nn_math' or name.split('.')[0] == 'rddnet'))")
    return set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                              check=True).stdout.split())


def test_the_zip_for_the_executors_holds_every_module_the_scripts_import():
    from rddnet import shipping
    zipped = {name.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
              for _, name in shipping.package_files()}
    imported = set().union(*map(modules_imported_by, SCRIPTS))
    assert "rddnet.training.epoch_tasks" in imported and imported <= zipped


def test_the_results_tables_options_are_the_options_of_their_full_commands():
    import main_task
    with open(os.path.join(ROOT, "docs", "results.md")) as f:
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


def test_the_cluster_commands_ship_the_zip_make_builds():
    with open(os.path.join(ROOT, "Makefile")) as f:
        assert "dist/rddnet.zip:" in f.read()
    for name in ("README.md", os.path.join("docs", "cluster.md")):
        with open(os.path.join(ROOT, name)) as f:
            assert re.findall(r"--py-files[= ](\S+)", f.read()) == ["dist/rddnet.zip"], name


def test_the_readme_links_only_files_that_exist():
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    links = re.findall(r"\]\(([^)#]+)\)", readme)
    assert len(links) > 8 and [link for link in links if not os.path.exists(os.path.join(ROOT, link))] == []
