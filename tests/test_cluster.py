"""The whole job on real clusters: executors in separate JVMs catch what local[N] hides
(modules not shipped, paths on the driver's disk, state kept in the driver's memory)."""

import json
import os
import re
import shutil
import signal
import subprocess

import pytest

import main_task
from conftest import ROOT, read_output, standalone_cluster, submit_command
from rddnet import shipping

pytestmark = pytest.mark.spark
OPTIONS = ("--hidden", "32", "--optimizer", "adam", "--lr", "0.01", "--dropout", "0.1")
# Long enough to lose a worker midway: the kill comes at epoch 4, once every block is cached.
KILL_OPTIONS = (*OPTIONS, "--epochs", "8", "--block-size", "200")


def run_here(sc, files, out, options):
    """The same job in this process on local[2]: as many partitions as two one-core workers."""
    main_task.run(sc, main_task.parse_args([*files, str(out), *options]), log=lambda line: None)
    return out


def assert_same_run(out, reference, outputs=("cost_history", "accuracy_history", "model", "confusion_matrix")):
    for output in outputs:
        assert read_output(out, output) == read_output(reference, output)


# One cluster test, in the Spark 3.5 run only (other_run: the two test runs share two cores, and a
# cluster's JVMs are the suite's dearest minute): executors in JVMs of their own, started by
# workers in another working directory, a URI output, a worker lost midway.
@pytest.mark.other_run
def test_a_standalone_cluster_that_loses_a_worker_gives_the_same_run(sc, small_compact, tmp_path):
    """A standalone master and two one-core workers; the job submitted from another directory,
    its output a URI. One worker (with its executor and cached blocks) is killed midway."""
    with standalone_cluster(tmp_path) as (master, workers):
        job = subprocess.Popen(submit_command(*small_compact, f"file://{tmp_path}/hit", *KILL_OPTIONS, master=master),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
        lines = []
        for line in job.stdout:
            lines.append(line)
            if line.startswith("epoch   4/"):
                os.killpg(workers[1].pid, signal.SIGKILL)  # the worker and its executor
        assert job.wait() == 0, "".join(lines[-30:])
    assert any("2 cores" in line for line in lines)
    assert any(line.startswith("epoch   8/") for line in lines)
    assert any("Lost executor" in line for line in lines)  # its cached blocks were rebuilt elsewhere
    assert_same_run(tmp_path / "hit", run_here(sc, small_compact, tmp_path / "clean", KILL_OPTIONS))


def executors_import_from(master, folder, *options, script=os.path.join(ROOT, "tests", "imported_from.py")):
    """{"rddnet": file, "nn_math": file} of what an executor imported, spark-submit run from ``folder``."""
    command = submit_command(master=master, script=script)
    command[-1:-1] = options  # spark-submit's options go before the script
    result = subprocess.run(command, capture_output=True, text=True, cwd=folder, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.other_run
def test_the_executors_import_the_code_the_driver_ships_or_the_py_files_zip(tmp_path):
    """From a checkout the driver zips the package for the executors; with the README's
    --py-files zip (the script alone beside it, as Dataproc runs it) they import that zip."""
    zipped = shipping.write_zip(str(tmp_path / "rddnet.zip"))
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(os.path.join(ROOT, "tests", "imported_from.py"), alone)
    (tmp_path / "cluster").mkdir()
    with standalone_cluster(tmp_path / "cluster", workers=1) as (master, _):
        shipped = executors_import_from(master, tmp_path)
        given = executors_import_from(master, alone, "--py-files", zipped, script=str(alone / "imported_from.py"))
    assert all(re.search(r"/rddnet-[0-9a-f]{16}\.zip/", path) for path in shipped.values()), shipped
    assert all("/rddnet.zip/" in path for path in given.values()), given


def test_the_code_is_shipped_once_per_context_and_content(sc):
    """The session's context shipped the zip when it started; shipping again adds nothing (a
    second file of the same name would fail the executors' fetch), and the name is the content's."""
    shipped = [name for name in sc._python_includes if name.startswith("rddnet-")]
    shipping.ship_code(sc)
    assert [name for name in sc._python_includes if name.startswith("rddnet-")] == shipped
    assert shipped == [shipping.zip_name(shipping.package_files())]
