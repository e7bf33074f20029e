"""The whole job on real clusters: executors in separate JVMs catch what local[N] hides
(modules not shipped, paths on the driver's disk, state kept in the driver's memory)."""

import os
import signal
import subprocess

import pytest

import main_task
from conftest import read_output, standalone_cluster, submit_command

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
