"""OUTPUT_DIR: checked before any work, written beside it, and replaced only once complete.

A run writes everything, its checkpoints included, into a staging folder of its own beside
OUTPUT_DIR (OUTPUT_DIR._incomplete-<application id>-<run id>). When every output is written, the
staging folder takes OUTPUT_DIR's place; until then an existing OUTPUT_DIR is left as it was.
A run that is stopped keeps its staging folder only if it holds a checkpoint (for --resume).

While a run writes, a thread rewrites the file _heartbeat in its staging folder every few
seconds, with the driver's host name and process id in it. A staging folder was left by a run
that was stopped when its driver ran on this host and its process is gone, or when its
heartbeat has not moved for STALE_SECONDS (by the file system's own clock): the next run into
the same OUTPUT_DIR removes it if it holds no checkpoint; if it does, --resume continues from
them, --overwrite removes it, and a run with neither stops and says so. A staging folder of a
run that is still going is never touched.
"""

import json
import os
import posixpath
import re
import socket
import threading
import uuid

from rddnet.errors import DataError
from rddnet.hadoop_fs import (
    delete_path,
    hadoop_path,
    list_names,
    matches,
    modified,
    one_line,
    path_exists,
    qualified,
    read_text,
    rename_path,
    write_bytes,
)
from rddnet.outputs.checkpoints import CHECKPOINT_NAME, complete_checkpoints
from rddnet.script_run import uninterrupted

STAGING = "._incomplete-"
HEARTBEAT = "_heartbeat"
STOPPED = "_stopped"  # written by a run that stopped and kept its checkpoints: stale at once
BEAT_SECONDS = 5
STALE_SECONDS = 30

# What a training run writes into OUTPUT_DIR (generate_plots.py's pictures too), and predict.py:
# --overwrite replaces a folder that holds nothing else, so that it never deletes a user's file.
RUN_OUTPUTS = frozenset({
    "cost_history", "accuracy_history", "test_accuracy_history", "validation_history", "metrics", "tests",
    "confusion_matrix", "summary", "model", "model.onnx", "checkpoints",
    "cost_history.png", "accuracy_history.png", "learning_rate.png", "confusion_matrix.png", "class_metrics.png",
    "test_examples.png"})
PREDICT_OUTPUTS = frozenset({"predictions", "metrics", "tests", "confusion_matrix", "summary"})


def normalized(path):
    """``path`` without "." and ".." steps, doubled or trailing slashes (its scheme and authority
    as they are): "out/" and "./out" are "out", so that a staging folder beside it is beside it."""
    prefix, rest = re.match(r"^([A-Za-z][\w+.-]*:(?://[^/]*)?)?(.*)$", path).groups()
    return (prefix or "") + (posixpath.normpath(rest) if rest else "/")


def check_not_a_home(sc, output_dir):
    """DataError if OUTPUT_DIR is the root of its file system, or is or holds the working directory
    or the user's home folder (the file system's, and for local paths this process's too):
    replacing it would delete them."""
    fs, jpath = hadoop_path(sc, output_dir)
    out = fs.makeQualified(jpath)
    if out.isRoot():
        raise DataError(f"{output_dir}: OUTPUT_DIR is the root of a file system ({out.toString()}); choose a "
                        "folder of its own")
    places = [("the working directory", fs.getWorkingDirectory()), ("the home folder", fs.getHomeDirectory())]
    if out.toUri().getScheme() == "file":
        places += [("the working directory", os.getcwd()), ("the home folder", os.path.expanduser("~"))]
    out = out.toString().rstrip("/")
    for what, place in places:
        place = fs.makeQualified(hadoop_path(sc, str(place))[1]).toString().rstrip("/")
        if place == out or place.startswith(out + "/"):
            relation = "is" if place == out else "holds"
            raise DataError(f"{output_dir}: OUTPUT_DIR {relation} {what} ({place}), which --overwrite would delete; "
                            "choose a folder of its own")


def check_only_outputs(sc, output_dir, outputs):
    """DataError unless the existing OUTPUT_DIR is an empty folder or holds nothing but ``outputs``
    (names this job writes, with their hidden .crc checksums): a file of the user's is never deleted."""
    fs, jpath = hadoop_path(sc, output_dir)
    if not fs.getFileStatus(jpath).isDirectory():
        raise DataError(f"{output_dir}: OUTPUT_DIR is a file, not a folder of this job's outputs; choose another "
                        "OUTPUT_DIR")
    for name in sorted(list_names(sc, output_dir)):
        if name not in outputs and not (name.startswith(".") and name.endswith(".crc") and name[1:-4] in outputs):
            raise DataError(f"{output_dir}: holds {name}, which this job did not write; --overwrite replaces only a "
                            "folder of its outputs: move it, or choose another OUTPUT_DIR")


def check_apart_from_inputs(sc, output_dir, inputs):
    """DataError if OUTPUT_DIR is, contains or lies inside one of ``inputs`` ({what: path}):
    replacing it would delete them."""
    out = qualified(sc, output_dir)
    for what, path in inputs.items():
        for found in matches(sc, path):
            if found == out or found.startswith(out + "/") or out.startswith(found + "/"):
                relation = "is" if found == out else "holds" if found.startswith(out + "/") else "lies inside"
                raise DataError(f"{output_dir}: OUTPUT_DIR {relation} {what} {found}; "
                                "choose an OUTPUT_DIR apart from the inputs")


def write_outputs(sc, folder, lines=None, files=None, rdds=None, tables=None):
    """Write into ``folder``: ``lines`` ({name: lines}) as text folders laid out as Spark writes one
    (part-00000, _SUCCESS) but by the driver through the file system (the outputs are small, and a
    Spark job each cost about 0.3 s: 2.3 s for the eight of a run); ``files`` ({name: bytes});
    ``rdds`` ({name: an RDD of lines}) as Spark's text folders; ``tables`` ({name: a DataFrame})
    as Parquet folders."""
    for name, rdd in (rdds or {}).items():
        rdd.saveAsTextFile(f"{folder}/{name}")
    for name, frame in (tables or {}).items():
        frame.write.parquet(f"{folder}/{name}")
    for name, text in (lines or {}).items():
        write_bytes(sc, f"{folder}/{name}/part-00000", "".join(line + "\n" for line in text).encode("utf-8"))
        write_bytes(sc, f"{folder}/{name}/_SUCCESS", b"")
    for name, data in (files or {}).items():
        write_bytes(sc, f"{folder}/{name}", data)


class Staging:
    """This run's folder beside OUTPUT_DIR: where outputs and checkpoints go until published."""

    def __init__(self, sc, output_dir, log):
        self.sc, self.output_dir, self.log = sc, output_dir, log
        # The application's id, and a run's own: a notebook or a test runs several in one application.
        self.path = f"{output_dir}{STAGING}{sc.applicationId}-{uuid.uuid4().hex[:8]}"
        self.checkpoints = f"{self.path}/checkpoints"
        self.resume_from = self.checkpoints  # with --resume: the folder of the checkpoints to continue from
        self._stop = threading.Event()
        self._beating = None

    # ------------------------------------------------------------ the start

    def others(self):
        """{path: seconds since its heartbeat} of the other staging folders of OUTPUT_DIR, by the
        file system's clock (read off this run's own heartbeat, just written); infinity for a run
        that said it stopped."""
        parent, _, base = self.output_dir.rpartition("/")
        now = modified(self.sc, f"{self.path}/{HEARTBEAT}")
        found = {}
        for name in list_names(self.sc, parent or "."):
            path = f"{parent}/{name}" if parent else name
            if name.startswith(base + STAGING) and path != self.path:
                last = max(modified(self.sc, path), modified(self.sc, f"{path}/{HEARTBEAT}"))
                gone = path_exists(self.sc, f"{path}/{STOPPED}") or driver_gone(self.sc, f"{path}/{HEARTBEAT}")
                found[path] = float("inf") if gone else (now - last) / 1000
        return found

    def create(self):
        """Make the staging folder and write its heartbeat: OUTPUT_DIR's file system takes our writes."""
        with one_line(self.output_dir, "cannot be created"):
            self.write_heartbeat()

    def write_heartbeat(self):
        write_bytes(self.sc, f"{self.path}/{HEARTBEAT}", json.dumps(
            {"host": socket.gethostname(), "pid": os.getpid()}).encode("utf-8"))

    def beat(self):
        """Rewrite the heartbeat every BEAT_SECONDS until stopped (a daemon thread)."""
        while not self._stop.wait(BEAT_SECONDS):
            try:
                self.write_heartbeat()
            except Exception:  # the JVM going down under an interrupted run: nothing to keep alive
                return

    def start_heartbeat(self):
        self._beating = threading.Thread(target=self.beat, name="staging-heartbeat", daemon=True)
        self._beating.start()

    def stop_heartbeat(self):
        self._stop.set()
        if self._beating is not None:
            self._beating.join()

    # -------------------------------------------------------------- the end

    def publish(self, lines=None, files=None, rdds=None, tables=None):
        """Write the outputs into the staging folder (write_outputs), then put it in OUTPUT_DIR's place."""
        write_outputs(self.sc, self.path, lines, files, rdds, tables)
        self.stop_heartbeat()
        self.take_place()

    @uninterrupted  # between the delete and the rename, neither the old outputs nor the new are in place
    def take_place(self):
        """The staging folder, complete, becomes OUTPUT_DIR (the earlier one removed)."""
        delete_path(self.sc, f"{self.path}/{HEARTBEAT}")
        if path_exists(self.sc, self.output_dir):
            delete_path(self.sc, self.output_dir)
        rename_path(self.sc, self.path, self.output_dir)

    def __enter__(self):
        return self

    def __exit__(self, *exception):
        self.close()

    @uninterrupted  # a second Ctrl-C, or the first one's timer, would leave the staging folder behind
    def close(self):
        """After the run, published or not: a staging folder still there is removed, unless it
        holds a checkpoint to resume from."""
        self.stop_heartbeat()
        try:
            if not path_exists(self.sc, self.path):
                return
            if complete_checkpoints(self.sc, self.checkpoints):
                write_bytes(self.sc, f"{self.path}/{STOPPED}", b"")
                self.log(f"the checkpoints so far are kept in {self.path}: --resume continues from them")
            else:
                delete_path(self.sc, self.path)
        except Exception:  # the JVM already gone (an interrupted run): a later run clears the folder
            pass


def driver_gone(sc, heartbeat):
    """True if the heartbeat file names a driver process on this host that no longer runs."""
    try:
        driver = json.loads(read_text(sc, heartbeat))
        if driver["host"] != socket.gethostname():
            return False
        os.kill(int(driver["pid"]), 0)
    except ProcessLookupError:
        return True
    except Exception:  # no heartbeat, an older or foreign one, or a process of another user: by its age
        return False
    return False


def open_staging(sc, output_dir, log, inputs, overwrite=False, resume=False, outputs=RUN_OUTPUTS):
    """Check OUTPUT_DIR before any work and create this run's Staging beside it.

    OUTPUT_DIR must not be a file system's root, the working directory or the home folder, or hold
    them; it must not exist, or --overwrite or --resume be given and it hold nothing but
    ``outputs`` (the names this job writes); and it must not be, hold or lie inside an input
    (``inputs``: {what: path or None}). The Staging is a context manager: its folder is closed
    (Staging.close) when the run leaves it. Staging folders of killed runs are removed, each with a log line;
    with --resume, the checkpoints to continue from (OUTPUT_DIR/checkpoints, or a killed run's
    staging folder, whichever has the later epoch) are in Staging.resume_from.
    """
    output_dir = normalized(output_dir)
    check_not_a_home(sc, output_dir)
    exists = path_exists(sc, output_dir)
    if exists and not (overwrite or resume):
        raise DataError(f"{output_dir}: already exists; choose another OUTPUT_DIR or pass --overwrite")
    check_apart_from_inputs(sc, output_dir, {what: path for what, path in inputs.items() if path})
    if exists:
        check_only_outputs(sc, output_dir, outputs)
    staging = Staging(sc, output_dir, log)
    staging.create()
    try:
        stale = []
        for path, seconds in sorted(staging.others().items()):
            if seconds < STALE_SECONDS:
                log(f"{path}: another run is writing there ({seconds:.0f} s since its heartbeat); left alone")
            else:
                stale.append(path)
        source = resume_source(sc, output_dir, stale) if resume else None
        if source in stale:  # a killed run's checkpoints: this run carries on in its folder
            stale.remove(source)
            delete_path(sc, staging.path)
            rename_path(sc, source, staging.path)
            delete_path(sc, f"{staging.path}/{STOPPED}")
            staging.write_heartbeat()
            log(f"resuming the interrupted run whose checkpoints are in {source}")
        elif source is not None:
            staging.resume_from = f"{source}/checkpoints"
        for path in stale:
            clear_stopped(sc, output_dir, path, log, overwrite, resume)
    except BaseException:
        delete_path(sc, staging.path)
        raise
    staging.start_heartbeat()
    return staging


def clear_stopped(sc, output_dir, path, log, overwrite, resume):
    """Remove the staging folder ``path`` of a stopped run unless it holds a checkpoint: then it
    is kept and, but with --overwrite (which starts afresh and removes it) or --resume (which
    continued a later one), the run stops with DataError saying so."""
    kept = complete_checkpoints(sc, f"{path}/checkpoints")
    epoch = int(CHECKPOINT_NAME.fullmatch(kept[-1]).group(1)) if kept else None
    if not kept:
        log(f"removing {path}, left by a run that was stopped")
        delete_path(sc, path)
    elif overwrite:
        log(f"removing {path}, a stopped run's checkpoints (to epoch {epoch}): --overwrite starts "
            "afresh")
        delete_path(sc, path)
    elif resume:
        log(f"{path}: an earlier stopped run's checkpoints; left alone")
    else:
        raise DataError(f"{output_dir}: a stopped run's checkpoints (to epoch {epoch}) are in {path}; "
                        "--resume continues that run, --overwrite starts afresh and deletes them")


def resume_source(sc, output_dir, stale):
    """The folder whose checkpoints/ --resume continues from: OUTPUT_DIR or one of the ``stale``
    staging folders, whichever has the latest complete checkpoint (a staging folder on a tie: it is
    the later run). DataError if none has one."""
    candidates = [(complete_checkpoints(sc, f"{folder}/checkpoints")[-1:], rank, folder)
                  for rank, folder in enumerate([output_dir, *stale])]
    best = max((c for c in candidates if c[0]), default=None)
    if best is None:
        if not path_exists(sc, output_dir) and not stale:
            raise DataError(f"{output_dir}: does not exist, so there is nothing to resume")
        raise DataError(f"{output_dir}: no complete checkpoint to resume from, in its checkpoints/ or a stopped "
                        "run's staging folder")
    return best[2]
