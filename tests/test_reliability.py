"""Reproducibility, divergence, checkpoints and faults: a run repeats, and survives what goes wrong."""

import json
import os
import re
import signal
import subprocess
import time

import numpy as np
import pytest

import main_task
import nn_math
from conftest import ROOT, read_output, spark_submit, submit_command
from rddnet.errors import DataError, Diverged
from rddnet.outputs.model_file import model_from_lines
from rddnet.training.epoch_tasks import Sums, combine_sums

pytestmark = pytest.mark.spark


def args_for(files, out, *options):
    return main_task.parse_args([*files, str(out), *options])


def quiet(line):
    pass


def visible(folder):
    """A folder's entries but the file system's hidden .crc files."""
    return sorted(name for name in os.listdir(folder) if not name.startswith("."))


def test_same_seed_gives_bit_identical_histories_and_model(sc, small_compact, tmp_path):
    options = ("--epochs", "4", "--optimizer", "adam", "--lr", "0.01", "--dropout", "0.2", "--hidden", "32,16",
               "--activation", "relu", "--loss", "cross-entropy")
    for name in ("a", "b"):
        main_task.run(sc, args_for(small_compact, tmp_path / name, *options), log=quiet)
    for output in ("cost_history", "accuracy_history", "model", "confusion_matrix"):
        assert read_output(tmp_path / "a", output) == read_output(tmp_path / "b", output)
    main_task.run(sc, args_for(small_compact, tmp_path / "c", *options, "--seed", "7"), log=quiet)
    assert read_output(tmp_path / "c", "cost_history") != read_output(tmp_path / "a", "cost_history")


def test_combining_partial_sums_does_not_depend_on_their_order():
    rng = np.random.default_rng(0)
    # Partials with heavy cancellation, as gradients of different blocks have.
    partials = [Sums(float(e), 1, 10, g) for e, g in
                zip(rng.normal(0, 1e6, 40), rng.normal(0, 1, (40, 500)) * 10.0 ** rng.integers(-8, 8, (40, 1)))]
    results = set()
    for _ in range(30):
        order = rng.permutation(len(partials))
        total = None
        while len(order):  # combine in random pairs, as a tree of reduce tasks would
            total = combine_sums(total, partials[order[0]]._replace(vector=partials[order[0]].vector.copy()))
            order = order[1:]
        results.add((total[0] + total[4], (total[3] + total[5]).tobytes()))
    assert len(results) == 1


def test_two_sum_keeps_the_rounding_error():
    s, e = nn_math.two_sum(1e16, 1.0)
    assert s == 1e16 and e == 1.0
    s, e = nn_math.two_sum(np.array([0.1, 1e-20]), np.array([0.2, 1.0]))
    assert s[0] + e[0] == 0.1 + 0.2 and e[0] != 0 and s[1] == 1.0 and e[1] == 1e-20


def test_a_diverging_run_stops_and_keeps_the_last_finite_model(sc, small_compact, tmp_path):
    out = tmp_path / "out"
    args = args_for(small_compact, out, "--epochs", "6", "--lr", "1e300", "--lr-schedule", "constant",
                    "--activation", "relu", "--loss", "cross-entropy")
    with pytest.raises(Diverged, match=r"^training diverged at epoch 2: the cost is nan; lower --lr$"):
        main_task.run(sc, args, log=quiet)
    costs = [float(c) for c in read_output(out, "cost_history")]
    assert len(costs) == 1 and np.isfinite(costs[0])
    _, theta, _, _ = model_from_lines(read_output(out, "model"))
    assert np.isfinite(theta).all() and np.abs(theta).max() > 1e200  # after epoch 1's huge step
    assert json.loads(read_output(out, "summary")[0])["diverged"].startswith("training diverged at epoch 2")


@pytest.mark.other_run
def test_diverging_job_exits_with_code_3_and_one_line(small_compact, tmp_path):
    result = spark_submit(*small_compact, tmp_path / "out", "--epochs", "4", "--lr", "1e300",
                          "--lr-schedule", "constant", "--activation", "relu", "--loss", "cross-entropy")
    output = result.stdout + result.stderr
    assert result.returncode == 3 and "Traceback" not in output and "RuntimeWarning" not in output
    # On stderr, although spark-submit merges its Python process's stderr into its own stdout.
    assert [line for line in result.stderr.splitlines() if "error:" in line] == [
        f"main_task.py: error: training diverged at epoch 2: the cost is nan; lower --lr "
        f"(histories and the last finite model are in {tmp_path / 'out'})"]
    assert "error:" not in result.stdout


# Besides the JVM's "WARNING" lines, Spark's own warnings may show (as its UI taking port 4041 when
# another Spark application holds 4040, where the UI is on): neither is the job's.
SPARK_WARNING = re.compile(r"^(WARNING|\d\d/\d\d/\d\d \d\d:\d\d:\d\d WARN )")


def ctrl_c(command, when):
    """Run a spark-submit ``command`` and, at the first line of its output that starts with
    ``when``, press Ctrl-C (SIGINT to its process group, as a terminal does: the JVM and Python
    both get it). Asserts it stops with exit code 130 and one line, no trace; (stdout, stderr)."""
    job = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                           start_new_session=True)
    for line in job.stdout:
        if line.startswith(when):
            os.killpg(job.pid, signal.SIGINT)
            break
    stdout, stderr = job.communicate(timeout=120)
    assert job.returncode == 130, stdout[-2000:] + stderr[-2000:]
    script = next(os.path.basename(arg) for arg in command if arg.endswith(".py"))
    assert [line for line in stderr.splitlines() if not SPARK_WARNING.match(line)] == [
        f"{script}: interrupted (SIGINT)"]
    assert "Traceback" not in stdout and "Exception" not in stdout + stderr and " at org.apache" not in stdout
    return stdout, stderr


def test_ctrl_c_stops_a_job_with_one_line_and_exit_130_and_resume_continues(sc, small_compact, tmp_path):
    out = tmp_path / "out"
    ctrl_c(submit_command(*small_compact, out, "--epochs", "200", "--checkpoint-every", "2"), "epoch   5/")
    assert not out.exists()
    staging, = tmp_path.glob("out._incomplete-*")
    last = int(max(visible(staging / "checkpoints"))[6:12])
    assert 4 <= last < 200
    said = []  # at once: the stopped run said so in its staging folder
    main_task.run(sc, args_for(small_compact, out, "--epochs", str(last + 2), "--resume"), log=said.append)
    assert any(line.startswith("resuming the interrupted run") for line in said)
    assert len(read_output(out, "cost_history")) == last + 2


def test_a_signal_during_a_clean_up_stops_the_run_once_it_is_done(monkeypatch):
    from rddnet import script_run
    monkeypatch.setattr(script_run, "silence_spark_logs", lambda: None)  # this process's JVM keeps its logs
    done = []

    @script_run.uninterrupted
    def clean_up():
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while a staging folder is being removed
        time.sleep(0.5)
        done.append("cleaned up")
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM)}
    script_run._signals.clear()
    script_run._stopping.clear()
    script_run.stop_on_signals()
    try:
        with pytest.raises(script_run.Stopped):
            clean_up()
            time.sleep(2)  # Stopped comes here, once the clean-up has returned
        assert done == ["cleaned up"] and script_run.interrupted() == signal.SIGINT
        os.kill(os.getpid(), signal.SIGINT)  # a second Ctrl-C while the run stops: nothing more is raised
        time.sleep(0.5)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        script_run._signals.clear()
        script_run._stopping.clear()


def test_ctrl_c_while_predict_writes_is_one_line_and_exit_130(sc, small_compact, tmp_path):
    trained = tmp_path / "trained"
    main_task.run(sc, args_for(small_compact, trained, "--epochs", "1", "--hidden", "8"), log=quiet)
    many = ",".join([small_compact[0]] * 30)  # 90,000 rows: seconds of writing to interrupt
    ctrl_c(submit_command(trained / "model", many, tmp_path / "out", script="predict.py"),
           "scoring ")  # what comes next is the predictions' write
    assert sorted(os.listdir(tmp_path)) == ["trained"]  # no predictions, and no staging folder left


@pytest.mark.spark35
def test_resume_continues_a_checkpointed_run_exactly(sc, small_compact, tmp_path):
    options = ("--optimizer", "adam", "--lr", "0.01", "--dropout", "0.1", "--lr-schedule", "step", "--lr-step", "2")
    main_task.run(sc, args_for(small_compact, tmp_path / "whole", "--epochs", "6", *options), log=quiet)
    main_task.run(sc, args_for(small_compact, tmp_path / "parts", "--epochs", "4", "--checkpoint-every", "2",
                               *options), log=quiet)
    assert visible(tmp_path / "parts" / "checkpoints") == ["epoch-000002.json", "epoch-000004.json"]
    main_task.run(sc, args_for(small_compact, tmp_path / "parts", "--epochs", "6", "--resume"), log=quiet)
    for output in ("cost_history", "accuracy_history", "model", "metrics"):
        assert read_output(tmp_path / "parts", output) == read_output(tmp_path / "whole", output)

    with pytest.raises(DataError, match="checkpoint was made with --lr 0.01, this run has 0.02"):
        main_task.run(sc, args_for(small_compact, tmp_path / "parts", "--epochs", "8", "--resume", "--lr", "0.02"),
                      log=quiet)
    with pytest.raises(DataError, match="does not exist, so there is nothing to resume"):
        main_task.run(sc, args_for(small_compact, tmp_path / "none", "--resume"), log=quiet)


def test_resume_on_other_training_inputs_is_one_line_naming_what_changed(sc, small_compact, tmp_path):
    out = tmp_path / "out"
    main_task.run(sc, args_for(small_compact, out, "--epochs", "2", "--hidden", "8", "--checkpoint-every", "1"),
                  log=quiet)
    images, labels = tmp_path / "images.csv", tmp_path / "labels.csv"
    with open(small_compact[0]) as f_images, open(small_compact[1]) as f_labels:
        rows = list(zip(f_images, f_labels))
    images.write_text("".join(image for image, _ in rows[1000:]) + "".join(image for image, _ in rows[:1000]))
    labels.write_text("".join(label for _, label in rows[1000:]) + "".join(label for _, label in rows[:1000]))
    same_size = [str(images), str(labels), *small_compact[2:]]  # the same rows in another order, other paths
    before = sorted(os.listdir(out / "checkpoints"))
    with pytest.raises(DataError, match=rf"^--resume: the checkpoint's training inputs differ: it was trained on "
                                        rf"file:{small_compact[0]}, file:{small_compact[1]}; this run reads "
                                        rf"file:{images}, file:{labels}; resume on the inputs it was trained on, or "
                                        "start afresh with --overwrite$"):
        main_task.run(sc, args_for(same_size, out, "--epochs", "4", "--resume"), log=quiet)
    copies = [str(tmp_path / "copies" / os.path.basename(path)) for path in small_compact]
    os.mkdir(tmp_path / "copies")
    for path, copy in zip(small_compact, copies):
        with open(copy, "wb") as f:
            f.write(open(path, "rb").read())
    main_task.run(sc, args_for(copies, tmp_path / "resumable", "--epochs", "2", "--hidden", "8",
                               "--checkpoint-every", "1"), log=quiet)
    with open(copies[0], "a") as f:
        f.write(rows[0][0])
    with open(copies[1], "a") as f:
        f.write(rows[0][1])
    with pytest.raises(DataError, match=rf"^--resume: the checkpoint's training inputs differ: file:{copies[0]} has "
                                        rf"changed since \([\d,]+ bytes then, [\d,]+ now\)"):
        main_task.run(sc, args_for(copies, tmp_path / "resumable", "--epochs", "4", "--resume"), log=quiet)
    assert sorted(os.listdir(out / "checkpoints")) == before and len(read_output(out, "cost_history")) == 2


@pytest.mark.spark35
def test_a_truncated_or_corrupt_checkpoint_is_a_clear_error(sc, small_compact, tmp_path):
    out = tmp_path / "out"
    main_task.run(sc, args_for(small_compact, out, "--epochs", "2", "--checkpoint-every", "2"), log=quiet)
    checkpoint = out / "checkpoints" / "epoch-000002.json"
    text = checkpoint.read_text()
    checkpoint.write_text(text[:len(text) // 2])
    with pytest.raises(DataError, match=r"epoch-000002.json: cannot be read \(ChecksumException: Checksum error"):
        main_task.run(sc, args_for(small_compact, out, "--epochs", "3", "--resume"), log=quiet)
    (out / "checkpoints" / ".epoch-000002.json.crc").unlink()  # now only our own checksum can tell
    with pytest.raises(DataError, match=r"epoch-000002.json: checkpoint is truncated or corrupt"):
        main_task.run(sc, args_for(small_compact, out, "--epochs", "3", "--resume"), log=quiet)
    position = text.index('"theta": [') + 12
    flipped = "1" if text[position] != "1" else "2"
    checkpoint.write_text(text[:position] + flipped + text[position + 1:])
    with pytest.raises(DataError, match=r"truncated or corrupt .*checksum mismatch"):
        main_task.run(sc, args_for(small_compact, out, "--epochs", "3", "--resume"), log=quiet)
    checkpoint.write_text("garbage\n")
    with pytest.raises(DataError, match=r"not a checkpoint"):
        main_task.run(sc, args_for(small_compact, out, "--epochs", "3", "--resume"), log=quiet)


def test_resume_passes_over_a_corrupt_last_checkpoint_to_the_one_before(sc, small_compact, tmp_path):
    out = tmp_path / "out"
    main_task.run(sc, args_for(small_compact, out, "--epochs", "4", "--checkpoint-every", "2"), log=quiet)
    main_task.run(sc, args_for(small_compact, tmp_path / "whole", "--epochs", "5"), log=quiet)
    last = out / "checkpoints" / "epoch-000004.json"
    last.write_text(last.read_text()[:1000])
    (out / "checkpoints" / ".epoch-000004.json.crc").unlink()
    said = []
    main_task.run(sc, args_for(small_compact, out, "--epochs", "5", "--resume"), log=said.append)
    assert any(line.startswith("passing over a checkpoint that cannot be used: ") and "epoch-000004.json: "
               "checkpoint is truncated or corrupt" in line for line in said)
    assert any("resuming after epoch 2" in line for line in said)
    for output in ("cost_history", "model"):
        assert read_output(out, output) == read_output(tmp_path / "whole", output)


def test_a_truncated_model_file_is_a_clear_error(sc, small_compact, tmp_path):
    main_task.run(sc, args_for(small_compact, tmp_path / "out", "--epochs", "1"), log=quiet)
    model = tmp_path / "out" / "model"
    part = model / "part-00000"
    part.write_text(part.read_text()[:5000])
    for crc in model.glob(".*.crc"):  # the local file system would reject the edited file
        crc.unlink()
    with pytest.raises(DataError, match=r"model/part-00000: line \d+: not a valid model file: not JSON \("):
        main_task.run(sc, args_for(small_compact, tmp_path / "again", "--epochs", "0", "--init-model", str(model)),
                      log=quiet)


def test_model_files_are_read_strictly_by_predict(sc, small_compact, tmp_path):
    import predict
    main_task.run(sc, args_for(small_compact, tmp_path / "run", "--epochs", "1"), log=quiet)
    part = tmp_path / "run" / "model" / "part-00000"
    text = part.read_text()

    def predicting(model, out):
        said = []
        summary = predict.run(sc, predict.parse_args([str(model), small_compact[2], str(tmp_path / out), "--labels",
                                                      small_compact[3]]), log=said.append)
        return summary, said
    summary, said = predicting(tmp_path / "run", "whole-run")  # a run's folder: its model/
    assert f"{tmp_path / 'run'} is a run's output folder: reading its model/" in said
    assert summary["test_accuracy"] == predicting(tmp_path / "run" / "model", "model-only")[0]["test_accuracy"]

    part.write_text(text.replace("0.", "1.", 1))  # edited in place, its .crc file left beside it
    with pytest.raises(DataError, match=r"^\S+/part-00000: cannot be read \(ChecksumException: Checksum error"):
        predicting(tmp_path / "run" / "model", "edited")
    (tmp_path / "run" / "model" / ".part-00000.crc").unlink()
    lines = text.splitlines()
    first_w = next(i for i, line in enumerate(lines) if '"W"' in line)
    row = json.loads(lines[first_w])
    lines[first_w] = lines[first_w].replace(repr(row["W"][0]), "Infinity", 1)
    part.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=rf"part-00000: line {first_w + 1}: not a valid model file: Infinity is not"):
        predicting(tmp_path / "run" / "model", "infinite")
    assert not list(tmp_path.glob("infinite*")) and not list(tmp_path.glob("edited*"))


@pytest.mark.other_run
def test_killed_driver_resumes_from_its_last_checkpoint(sc, small_compact, tmp_path):
    options = ["--epochs", "12", "--hidden", "128", "--optimizer", "momentum", "--lr", "0.05"]
    main_task.run(sc, args_for(small_compact, tmp_path / "whole", *options), log=quiet)  # same as spark-submit's
    out = tmp_path / "killed"
    job = subprocess.Popen(submit_command(*small_compact, out, *options, "--checkpoint-every", "3"),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
                           start_new_session=True)
    seen = []
    for line in job.stdout:
        seen.append(line)
        if line.startswith("epoch   8/"):
            os.killpg(job.pid, signal.SIGKILL)  # the driver and everything it started
            break
    job.wait()
    assert job.returncode == -signal.SIGKILL, "".join(seen[-20:])
    assert not out.exists()  # no outputs yet, none half-written: the run wrote into its staging folder
    staging, = tmp_path.glob("killed._incomplete-*")
    assert "epoch-000006.json" in visible(staging / "checkpoints")
    for name in ("", "_heartbeat"):  # as if the driver had died a minute ago (the next run tells by the heartbeat)
        os.utime(staging / name, (time.time() - 60, time.time() - 60))

    said = []  # resumed in this process: the same as spark-submit's (the cluster tests check that)
    main_task.run(sc, args_for(small_compact, out, "--epochs", "12", "--resume"), log=said.append)
    assert any("resuming after epoch 6" in line for line in said)
    assert not list(tmp_path.glob("killed._incomplete-*"))
    assert "epoch-000006.json" in visible(out / "checkpoints")
    for output in ("cost_history", "accuracy_history", "model", "metrics", "confusion_matrix"):
        assert read_output(out, output) == read_output(tmp_path / "whole", output)


def test_a_task_that_fails_once_is_retried_with_the_same_result(small_compact, tmp_path):
    marker = tmp_path / "failures.txt"
    result = spark_submit(marker, small_compact[0], small_compact[1], master="local[2,2]",
                          script="tests/fault_driver.py")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert marker.read_text().count("failed") == 1  # the failure really happened, once
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["faulty"] == report["clean"] and report["same_model"]
