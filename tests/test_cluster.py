"""The whole job on real clusters: executors in separate JVMs catch what local[N] hides
(modules not shipped, paths on the driver's disk, state kept in the driver's memory)."""

import os
import signal
import subprocess

import pytest

import main_task
from conftest import ROOT, read_output, spark_submit, standalone_cluster, submit_command

pytestmark = pytest.mark.spark
OPTIONS = ("--epochs", "3", "--hidden", "32", "--optimizer", "adam", "--lr", "0.01", "--dropout", "0.1")
# Long enough to lose a worker midway: the kill comes at epoch 5.
KILL_OPTIONS = ("--epochs", "12", "--hidden", "64", "--block-size", "200")


def run_here(sc, files, out, options):
    """The same job in this process on local[2]: as many partitions as two one-core workers."""
    main_task.run(sc, main_task.parse_args([*files, str(out), *options]), log=lambda line: None)
    return out


@pytest.fixture(scope="module")
def reference(sc, small_compact, tmp_path_factory):
    return run_here(sc, small_compact, tmp_path_factory.mktemp("reference") / "out", OPTIONS)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """One standalone master and two one-core workers for this module (the last test kills one)."""
    with standalone_cluster(tmp_path_factory.mktemp("standalone")) as master_and_workers:
        yield master_and_workers


def assert_same_run(out, reference, outputs=("cost_history", "accuracy_history", "model", "confusion_matrix")):
    for output in outputs:
        assert read_output(out, output) == read_output(reference, output)


@pytest.mark.spark35
def test_local_cluster_from_another_directory_with_a_uri_output(small_compact, reference, tmp_path):
    # Run from an unrelated working directory: nothing may rely on the checkout being the cwd.
    result = subprocess.run(submit_command(*small_compact, f"file://{tmp_path}/out", *OPTIONS,
                                           master="local-cluster[2,1,1024]"),
                            capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert_same_run(tmp_path / "out", reference)


@pytest.mark.spark35
def test_standalone_master_with_two_workers(small_compact, reference, cluster, tmp_path):
    master, _ = cluster
    result = spark_submit(*small_compact, tmp_path / "out", *OPTIONS, master=master)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "2 cores" in result.stdout
    assert_same_run(tmp_path / "out", reference)


def test_killing_a_worker_during_training_gives_the_same_histories(sc, small_compact, cluster, tmp_path):
    master, workers = cluster
    clean = run_here(sc, small_compact, tmp_path / "clean", KILL_OPTIONS)
    job = subprocess.Popen(submit_command(*small_compact, tmp_path / "hit", *KILL_OPTIONS, master=master),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    lines = []
    for line in job.stdout:
        lines.append(line)
        if line.startswith("epoch   5/"):
            os.killpg(workers[1].pid, signal.SIGKILL)  # the worker and its executor
    assert job.wait() == 0, "".join(lines[-30:])
    assert any(line.startswith("epoch  12/") for line in lines)
    assert any("Lost executor" in line for line in lines)  # its cached blocks were rebuilt elsewhere
    assert_same_run(tmp_path / "hit", clean, ("cost_history", "accuracy_history", "model"))
