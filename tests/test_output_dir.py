"""OUTPUT_DIR: never an input, replaced only once the new outputs are complete, staging folders
of stopped runs cleared, and its faults found before any work."""

import os
import subprocess
import time

import pytest

import main_task
import predict
from conftest import read_output, submit_command
from rddnet.errors import DataError
from rddnet.outputs import output_folder

pytestmark = pytest.mark.spark


def run(sc, files, out, *options, log=None):
    lines = [] if log is None else log
    return main_task.run(sc, main_task.parse_args([*map(str, [*files, out, *options])]), log=lines.append), lines


def copy_of(small_compact, folder):
    """The four files copied into ``folder``; their paths."""
    folder.mkdir()
    paths = []
    for path in small_compact:
        target = folder / os.path.basename(path)
        target.write_bytes(open(path, "rb").read())
        paths.append(target)
    return paths


def test_overwrite_refuses_an_output_dir_that_is_holds_or_lies_inside_an_input(sc, small_compact, tmp_path):
    data = copy_of(small_compact, tmp_path / "data")
    before = sorted(os.listdir(tmp_path / "data"))
    cases = {  # OUTPUT_DIR: what the message says of it
        tmp_path / "data": "holds TRAIN_IMAGES",
        tmp_path / "data" / "mnist_images_test.csv": "is TEST_IMAGES",
    }
    for out, said in cases.items():
        with pytest.raises(DataError, match=f"^{out}: OUTPUT_DIR {said} .*apart from the inputs$"):
            run(sc, data, out, "--overwrite", "--checkpoint-every", "1")
    folder = tmp_path / "parts"  # a folder of part files as the input, OUTPUT_DIR inside it
    folder.mkdir()
    (folder / "part-00000").write_bytes(open(small_compact[0], "rb").read())
    with pytest.raises(DataError, match="OUTPUT_DIR lies inside TRAIN_IMAGES"):
        run(sc, [folder, *data[1:]], folder / "out", "--overwrite")
    model = tmp_path / "earlier"  # --init-model's folder counts too
    run(sc, data, model, "--epochs", "1")
    with pytest.raises(DataError, match="OUTPUT_DIR holds --init-model"):
        run(sc, data, model, "--overwrite", "--epochs", "0", "--init-model", model / "model")
    assert sorted(os.listdir(tmp_path / "data")) == before and os.path.exists(folder / "part-00000")
    assert os.path.exists(model / "model" / "part-00000")
    assert not list(tmp_path.glob("*._incomplete-*")) and not list((tmp_path / "data").glob("*._incomplete-*"))


@pytest.mark.spark35
def test_an_existing_output_dir_is_replaced_only_once_the_new_outputs_are_complete(sc, small_compact, tmp_path):
    out = tmp_path / "out"
    (out / "summary").mkdir(parents=True)
    (out / "summary" / "part-00000").write_text("an earlier run's outputs")

    def interrupt_at_epoch_3(line):
        if line.startswith("epoch   3/"):
            raise KeyboardInterrupt  # Ctrl-C in the middle of training
    with pytest.raises(KeyboardInterrupt):
        main_task.run(sc, main_task.parse_args([*small_compact, str(out), "--epochs", "6", "--checkpoint-every", "2",
                                                "--overwrite"]), log=interrupt_at_epoch_3)
    assert os.listdir(out) == ["summary"]  # untouched so far
    staging, = tmp_path.glob("out._incomplete-*")  # the checkpoints have a place of their own
    assert "epoch-000002.json" in os.listdir(staging / "checkpoints")

    summary, said = run(sc, small_compact, out, "--epochs", "6", "--resume")
    assert any(f"resuming the interrupted run whose checkpoints are in {staging}" in line for line in said)
    assert any("resuming after epoch 2" in line for line in said)
    assert read_output(out, "summary") != ["an earlier run's outputs"] and len(read_output(out, "cost_history")) == 6
    assert "epoch-000002.json" in os.listdir(out / "checkpoints")  # --checkpoint-every was not given again
    assert not list(tmp_path.glob("out._incomplete-*"))


def test_a_failed_run_leaves_the_existing_output_dir_and_no_staging(sc, small_compact, tmp_path):
    out = tmp_path / "out"
    (out / "model").mkdir(parents=True)
    (out / "model" / "part-00000").write_text("an earlier run's outputs")
    bad = tmp_path / "labels.csv"
    bad.write_text("1\n" * 5)
    with pytest.raises(DataError, match="more images than labels"):
        run(sc, [small_compact[0], bad, *small_compact[2:]], out, "--overwrite", "--checkpoint-every", "1")
    assert os.listdir(out) == ["model"] and not list(tmp_path.glob("out._incomplete-*"))


def test_staging_folders_of_stopped_runs_are_removed_and_a_running_ones_left(sc, small_compact, tmp_path):
    out = tmp_path / "out"
    stopped, running = tmp_path / "out._incomplete-local-1", tmp_path / "out._incomplete-app-2"
    for folder in (stopped, running):
        (folder / "model").mkdir(parents=True)
        (folder / "_heartbeat").write_bytes(b"")
    for path in (stopped / "model", stopped / "_heartbeat", stopped):  # its heartbeat stopped ten minutes ago
        os.utime(path, (time.time() - 600, time.time() - 600))
    _, said = run(sc, small_compact, out, "--epochs", "1")
    assert f"removing {stopped}, left by a run that was stopped" in said
    assert any(line.startswith(f"{running}: another run is writing there") for line in said)
    assert not stopped.exists() and running.exists() and (out / "model").exists()


def test_an_output_dir_that_cannot_be_created_is_one_line_before_loading(sc, small_compact, tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    out = tmp_path / "a-file" / "out"
    said = []
    with pytest.raises(DataError, match=rf"^{out}: cannot be created \(\w+: .*\)$") as error:
        run(sc, small_compact, out, log=said)
    assert "\n" not in str(error.value) and said == []  # nothing loaded


def test_resume_without_a_checkpoint_anywhere_is_one_line(sc, small_compact, tmp_path):
    out = tmp_path / "out"
    out.mkdir()  # a finished run's folder, made without --checkpoint-every
    with pytest.raises(DataError, match=rf"^{out}: no complete checkpoint to resume from, in its checkpoints/ or a "
                                        "stopped run's staging folder$"):
        run(sc, small_compact, out, "--resume")
    assert os.listdir(tmp_path) == ["out"]


def test_overwrite_of_the_working_directory_is_one_line_and_deletes_nothing(sc, small_compact, tmp_path):
    # As a user would, from a folder of their own files: spark-submit ... . --overwrite
    work = tmp_path / "work"
    data = copy_of(small_compact, work)
    (work / "notes.txt").write_text("the user's own")
    model = tmp_path / "trained"
    run(sc, small_compact, model, "--epochs", "1", "--hidden", "8")
    before = sorted(os.listdir(work))
    for script, args in (("main_task.py", [*data, "."]), ("predict.py", [model / "model", data[2], "."])):
        result = subprocess.run(submit_command(*args, "--overwrite", script=script), cwd=work, capture_output=True,
                                text=True, timeout=300)
        assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
        assert [line for line in result.stderr.splitlines() if "error:" in line] == [
            f"{script}: error: .: OUTPUT_DIR is the working directory (file:{work}), which --overwrite would delete; "
            "choose a folder of its own"]
        assert "Traceback" not in result.stdout + result.stderr
        assert sorted(os.listdir(work)) == before and sorted(os.listdir(tmp_path)) == ["trained", "work"]


def test_an_output_dir_that_is_a_root_or_holds_the_working_or_home_folder_is_refused(sc):
    # Checked alone (it deletes nothing): the Hadoop working directory is this JVM's, where pytest runs.
    jvm_cwd = sc._jvm.java.lang.System.getProperty("user.dir")
    home = sc._jvm.java.lang.System.getProperty("user.home")
    cases = {"/": "is the root of a file system", "file:///": "is the root of a file system",
             "/tmp/..": "is the root of a file system", ".": "is the working directory",
             "./": "is the working directory", jvm_cwd: "is the working directory",
             os.path.dirname(jvm_cwd): "holds the working directory", home: "is the home folder",
             os.getcwd(): "is the working directory"}
    for path, said in cases.items():
        with pytest.raises(DataError, match=f"OUTPUT_DIR {said}"):
            output_folder.check_not_a_home(sc, output_folder.normalized(path))
    output_folder.check_not_a_home(sc, os.path.join(jvm_cwd, "output", "run"))  # a folder of its own is fine
    assert [output_folder.normalized(p) for p in ("out/", "./out", "a//b/./c/..", "gs://bucket/x/", "gs://b")] == [
        "out", "out", "a/b", "gs://bucket/x", "gs://b/"]


def test_overwrite_replaces_only_a_folder_of_the_jobs_own_outputs(sc, small_compact, tmp_path):
    trained = tmp_path / "trained"
    run(sc, small_compact, trained, "--epochs", "1", "--hidden", "8")
    run(sc, small_compact, trained, "--epochs", "1", "--hidden", "8", "--overwrite")  # a run's own outputs: replaced
    (trained / "cost_history.png").write_bytes(b"a plot generate_plots.py drew")
    run(sc, small_compact, trained, "--epochs", "1", "--hidden", "8", "--overwrite")
    assert not (trained / "cost_history.png").exists()
    out = tmp_path / "predictions"
    out.mkdir()
    args = [str(trained / "model"), small_compact[2], str(out), "--overwrite"]
    predict.run(sc, predict.parse_args(args), log=lambda line: None)  # an empty folder: replaced
    predict.run(sc, predict.parse_args(args), log=lambda line: None)  # its own outputs: replaced
    (out / "notes.txt").write_text("the user's own")
    before = sorted(os.listdir(out))
    with pytest.raises(DataError, match=rf"^{out}: holds notes.txt, which this job did not write; --overwrite replaces "
                                        "only a folder of its outputs: move it, or choose another OUTPUT_DIR$"):
        predict.run(sc, predict.parse_args(args), log=lambda line: None)
    assert sorted(os.listdir(out)) == before and (out / "notes.txt").read_text() == "the user's own"
    # A training run's folder is not predict's to replace.
    with pytest.raises(DataError, match=rf"^{trained}: holds accuracy_history, which this job did not write"):
        predict.run(sc, predict.parse_args([str(out / "x"), small_compact[2], str(trained), "--overwrite"]),
                    log=lambda line: None)
    with pytest.raises(DataError, match=rf"^{out}: holds notes.txt, which this job did not write"):
        run(sc, small_compact, out, "--epochs", "1", "--overwrite")
    (tmp_path / "a-file").write_text("the user's own")
    with pytest.raises(DataError, match="OUTPUT_DIR is a file, not a folder of this job's outputs"):
        run(sc, small_compact, tmp_path / "a-file", "--epochs", "1", "--overwrite")
    assert (tmp_path / "a-file").read_text() == "the user's own" and (trained / "model").exists()
    assert not list(tmp_path.glob("*._incomplete-*"))


def test_a_stopped_runs_checkpoints_are_kept_until_resume_or_overwrite(sc, small_compact, tmp_path):
    out = tmp_path / "out"
    options = ("--epochs", "4", "--hidden", "8", "--checkpoint-every", "2")

    def killed_after_epoch_3(line):
        if line.startswith("epoch   3/"):
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        main_task.run(sc, main_task.parse_args([*small_compact, str(out), *options]), log=killed_after_epoch_3)
    staging, = tmp_path.glob("out._incomplete-*")
    os.remove(staging / "_stopped")  # as SIGKILL leaves it: no word that it stopped, its heartbeat old
    for path in (staging / "_heartbeat", staging):
        os.utime(path, (time.time() - 600, time.time() - 600))
    said = []
    with pytest.raises(DataError, match=rf"^{out}: a stopped run's checkpoints \(to epoch 2\) are in {staging}; "
                                        "--resume continues that run, --overwrite starts afresh and deletes them$"):
        run(sc, small_compact, out, *options, log=said)
    assert "epoch-000002.json" in os.listdir(staging / "checkpoints") and not out.exists()
    assert said == [] and sorted(tmp_path.iterdir()) == [staging]
    _, said = run(sc, small_compact, out, *options[:2], "--resume")
    assert any("resuming after epoch 2" in line for line in said) and len(read_output(out, "cost_history")) == 4

    with pytest.raises(KeyboardInterrupt):  # again, and this time start afresh
        main_task.run(sc, main_task.parse_args([*small_compact, str(tmp_path / "again"), *options]),
                      log=killed_after_epoch_3)
    staging, = tmp_path.glob("again._incomplete-*")
    _, said = run(sc, small_compact, tmp_path / "again", *options, "--overwrite")
    assert f"removing {staging}, a stopped run's checkpoints (to epoch 2): --overwrite starts afresh" in said
    assert not staging.exists() and len(read_output(tmp_path / "again", "cost_history")) == 4
