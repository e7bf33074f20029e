"""The whole job on real clusters: executors in separate JVMs catch what local[N] hides
(modules not shipped, paths on the driver's disk, state kept in the driver's memory)."""

import subprocess

import pytest

import main_task
from conftest import read_output, spark_submit, standalone_cluster, submit_command

pytestmark = pytest.mark.spark
OPTIONS = ("--epochs", "3", "--hidden", "32", "--optimizer", "adam", "--lr", "0.01", "--dropout", "0.1")


@pytest.fixture(scope="module")
def reference(sc, small_compact, tmp_path_factory):
    """The same run in this process on local[2]."""
    out = tmp_path_factory.mktemp("reference") / "out"
    main_task.run(sc, main_task.parse_args([*small_compact, str(out), *OPTIONS]), log=lambda line: None)
    return out


def assert_same_run(out, reference):
    for output in ("cost_history", "accuracy_history", "model", "confusion_matrix"):
        assert read_output(out, output) == read_output(reference, output)


def test_local_cluster_from_another_directory_with_a_uri_output(small_compact, reference, tmp_path):
    # Run from an unrelated working directory: nothing may rely on the checkout being the cwd.
    result = subprocess.run(submit_command(*small_compact, f"file://{tmp_path}/out", *OPTIONS,
                                           master="local-cluster[2,1,1024]"),
                            capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert_same_run(tmp_path / "out", reference)


def test_standalone_master_with_two_workers(small_compact, reference, tmp_path):
    with standalone_cluster(tmp_path) as (master, _):
        result = spark_submit(*small_compact, tmp_path / "out", *OPTIONS, master=master)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "2 cores" in result.stdout
    assert_same_run(tmp_path / "out", reference)
