"""What the job saves and reads back: the training state (checkpoints, --resume), the model
file (model/, --init-model), and the output folders, staged and then published.

Everything goes through Spark and the Hadoop FileSystem API (hadoop_fs.py), so OUTPUT_DIR may
be local, hdfs:// or gs://. Floats are written by JSON's repr, so they read back bit for bit;
nothing is pickled.
"""

import hashlib
import json
import re
from dataclasses import dataclass, field

import numpy as np

import nn_math
from errors import DataError
from hadoop_fs import delete_path, input_exists, input_files, list_names, read_text, rename_path, write_text
from scaling import Scaling

N_EXAMPLES = 100  # (prediction, label) pairs written to tests/

# ------------------------------------------------------------ training state


def empty_history():
    """Per epoch: cost, accuracy, lr, sample (rows), seconds; and (epoch, test accuracy) pairs."""
    return {"cost": [], "accuracy": [], "lr": [], "sample": [], "seconds": [], "test_accuracy": []}


@dataclass
class TrainingState:
    """Everything training carries from one epoch to the next, and a checkpoint saves.

    theta: the flat parameters (nn_math.layer_views); moments: the optimizer's arrays and
    counters (nn_math.Optimizer); lr: the last epoch's learning rate; previous_cost: its cost.
    """

    theta: np.ndarray
    moments: dict
    lr: float
    epoch: int = 0
    previous_cost: float = None
    history: dict = field(default_factory=empty_history)

    @classmethod
    def start(cls, theta, settings):
        """Before the first epoch: fresh moments and the initial learning rate of run_settings.Settings."""
        return cls(theta, settings.optimizer.initial_moments(theta), settings.schedule.lr)

    def to_json(self):
        """A JSON-ready dict (the checkpoint's payload keys)."""
        moments = {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in self.moments.items()}
        return {"epoch": self.epoch, "theta": self.theta.tolist(), "optimizer": moments, "lr": self.lr,
                "previous_cost": self.previous_cost, "history": self.history}

    @classmethod
    def from_json(cls, data):
        moments = {k: np.array(v) if isinstance(v, list) else v for k, v in data["optimizer"].items()}
        history = dict(data["history"])
        history["test_accuracy"] = [tuple(pair) for pair in history["test_accuracy"]]
        return cls(theta=np.array(data["theta"], dtype=np.float64), moments=moments, lr=data["lr"],
                   epoch=data["epoch"], previous_cost=data["previous_cost"], history=history)


# -------------------------------------------------------------- checkpoints

CHECKPOINT_FORMAT = "mnist-mlp-checkpoint/1"
CHECKPOINT_NAME = re.compile(r"epoch-(\d{6})\.json")


def checkpoint_text(state, net, scale, settings):
    """A checkpoint as two lines: a header with the payload's SHA-256, then the payload
    (the training state, the network, its input scaling and the settings that define the run)."""
    payload = json.dumps({**state.to_json(), "network": net._asdict(), "scaling": scale.to_json(),
                          "settings": settings})
    digest = hashlib.sha256(payload.encode("utf-8")).hexdigest()
    return json.dumps({"format": CHECKPOINT_FORMAT, "sha256": digest, "length": len(payload)}) + "\n" + payload + "\n"


def checkpoint_from_text(text, path):
    """(Network, TrainingState, Scaling, settings) from checkpoint_text's output; DataError if truncated or
    corrupt. A checkpoint from before the scaling was saved has pixels' (divisor None: from the data)."""
    header, _, payload = text.partition("\n")
    payload = payload.rstrip("\n")
    try:
        header = json.loads(header)
    except ValueError:
        raise DataError(f"{path}: not a checkpoint (its first line is not a JSON header)") from None
    if not isinstance(header, dict) or header.get("format") != CHECKPOINT_FORMAT:
        raise DataError(f"{path}: not a checkpoint of format {CHECKPOINT_FORMAT}")
    if len(payload) != header.get("length") or hashlib.sha256(payload.encode("utf-8")).hexdigest() != header.get(
            "sha256"):
        raise DataError(f"{path}: checkpoint is truncated or corrupt ({len(payload)} of {header.get('length')} "
                        "characters, or a checksum mismatch)")
    data = json.loads(payload)
    scale = Scaling.from_json(data["scaling"]) if "scaling" in data else Scaling("pixels", 0.0, None)
    return nn_math.Network(**data["network"]), TrainingState.from_json(data), scale, data["settings"]


def save_checkpoint(sc, folder, state, net, scale, settings, keep=2):
    """Write epoch-NNNNNN.json under ``folder`` (complete once renamed), keep the newest ``keep``."""
    name = f"epoch-{state.epoch:06d}.json"
    write_text(sc, f"{folder}/{name}.incomplete", checkpoint_text(state, net, scale, settings))
    rename_path(sc, f"{folder}/{name}.incomplete", f"{folder}/{name}")
    complete = sorted(n for n in list_names(sc, folder) if CHECKPOINT_NAME.fullmatch(n))
    for old in complete[:-keep]:
        delete_path(sc, f"{folder}/{old}")


def load_last_checkpoint(sc, folder, log=print):
    """(Network, TrainingState, Scaling, settings) of the newest readable complete checkpoint under
    ``folder``: one that cannot be read (truncated, corrupt) is passed over with a log line for the
    one before it. DataError for the newest one's fault if none can be read."""
    complete = sorted(n for n in list_names(sc, folder) if CHECKPOINT_NAME.fullmatch(n))
    if not complete:
        raise DataError(f"{folder}: no complete checkpoint to resume from")
    faults = []
    for name in reversed(complete):
        path = f"{folder}/{name}"
        try:
            return checkpoint_from_text(read_text(sc, path), path)
        except DataError as e:
            faults.append(e)
            log(f"passing over a checkpoint that cannot be used: {e}")
    raise faults[0]


# --------------------------------------------------------------- model file

MODEL_FORMAT = "mnist-mlp-model/2"  # 2: the header has the input scaling
MODEL_FORMATS = ("mnist-mlp-model/1", MODEL_FORMAT)


def model_to_lines(net, theta, scale):
    """The model as JSON lines: a header (format, network, input scaling), then per layer a line
    {"layer", "b"} and one line {"layer", "row", "W"} per row of W."""
    header = {"format": MODEL_FORMAT, "layer_sizes": list(net.sizes), "activation": net.activation,
              "loss": net.loss, "activations": net.activations, "scaling": scale.to_json()}
    lines = [json.dumps(header)]
    for l, (W, b) in enumerate(nn_math.layer_views(theta, net.sizes)):
        lines.append(json.dumps({"layer": l, "b": b.tolist()}))
        lines.extend(json.dumps({"layer": l, "row": i, "W": row}) for i, row in enumerate(W.tolist()))
    return lines


def reject_constant(name):
    """json.loads's hook for NaN, Infinity and -Infinity, which Python's json would read as floats."""
    raise ValueError(f"{name} is not a finite weight")


def model_records(lines, path="model"):
    """The JSON records of a model file's lines (blank lines skipped). ValueError "<path>: line N:
    ..." for a line that is not JSON or holds NaN or an infinity."""
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line, parse_constant=reject_constant))
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: line {number}: not a valid model file: not JSON ({e.msg}, column {e.colno})") \
                from None
        except ValueError as e:
            raise ValueError(f"{path}: line {number}: not a valid model file: {e}") from None
    return records


def model_from_records(records, path="model"):
    """(Network, theta, scaling.Scaling) from the records model_to_lines wrote, in any order.

    A model of format 1 (before the scaling was saved) scales pixels as that version did: its
    Scaling's divisor is None, to be chosen from the data. Raises ValueError "<path>: ..." if the
    header is not one of ours, or a weight is missing, not finite or misshapen.
    """
    try:
        headers = [r for r in records if "format" in r]
        if len(headers) != 1 or headers[0]["format"] not in MODEL_FORMATS:
            raise ValueError(f"expected one header line with format {' or '.join(map(repr, MODEL_FORMATS))}")
        header = headers[0]
        scale = Scaling.from_json(header["scaling"]) if "scaling" in header else Scaling("pixels", 0.0, None)
        net = nn_math.Network([int(d) for d in header["layer_sizes"]], header["activation"], header["loss"])
        if header["activation"] not in nn_math.HIDDEN_ACTIVATIONS or header["loss"] not in nn_math.LOSSES:
            raise ValueError(f"unknown activation or loss in {header}")
        theta = np.zeros(nn_math.parameter_count(net.sizes))
        given = np.zeros(theta.shape, dtype=bool)  # which weights the file set: NaN cannot mark "missing"
        views, given_views = nn_math.layer_views(theta, net.sizes), nn_math.layer_views(given, net.sizes)
        for r in records:
            if "b" in r:
                views[r["layer"]][1][...] = r["b"]
                given_views[r["layer"]][1][...] = True
            elif "W" in r:
                views[r["layer"]][0][r["row"]] = r["W"]
                given_views[r["layer"]][0][r["row"]] = True
    except (KeyError, IndexError, TypeError, ValueError) as e:
        raise ValueError(f"{path}: not a valid model file: {e}") from None
    if not given.all():
        layer = next(l for l, (W, b) in enumerate(given_views) if not (W.all() and b.all()))
        W, b = given_views[layer]
        what = "its biases" if not b.all() else f"row {int(np.flatnonzero(~W.all(axis=1))[0])} of its weights"
        raise ValueError(f"{path}: not a valid model file: some weights are missing (layer {layer}: {what})")
    if not np.isfinite(theta).all():  # a value JSON holds as a number too large for a float
        raise ValueError(f"{path}: not a valid model file: a weight is not finite")
    return net, theta, scale


def model_from_lines(lines, path="model"):
    """(Network, theta, scaling.Scaling) from the lines model_to_lines wrote, in any order."""
    return model_from_records(model_records(lines, path), path)


def model_folder(sc, path, log):
    """The folder of a model: ``path``, or its model/ when ``path`` is a run's output folder (said in
    the log). DataError if there is none."""
    if not input_exists(sc, path):
        raise DataError(f"{path}: file not found")
    names = list_names(sc, path)
    if "model" in names and not any(name.startswith("part-") for name in names):
        log(f"{path} is a run's output folder: reading its model/")
        return f"{path.rstrip('/')}/model"
    return path


def read_model(sc, path, log=print):
    """(Network, theta, scaling.Scaling) from a model/ folder written by an earlier run (or the
    run's folder), read on the driver file by file: every fault is one line naming the file and,
    where there is one, its line."""
    folder = model_folder(sc, path, log)
    records = []
    for name, _ in input_files(sc, folder):
        try:
            records.extend(model_records(read_text(sc, name).splitlines(), name))
        except ValueError as e:
            raise DataError(str(e)) from None
    try:
        return model_from_records(records, folder)
    except ValueError as e:
        raise DataError(str(e)) from None


# ------------------------------------------------------------------ outputs

def metrics_record(confusion):
    """The test metrics of a confusion matrix (k, k), as the summary records them."""
    precision, recall, f1 = nn_math.precision_recall_f1(confusion)
    per_class = [{"class": c, "precision": float(precision[c]), "recall": float(recall[c]),
                  "f1": float(f1[c]), "support": int(confusion[c].sum())} for c in range(len(confusion))]
    return {"test_accuracy": nn_math.accuracy_of(confusion), "macro_f1": float(f1.mean()), "per_class": per_class,
            "confusion_matrix": confusion.tolist()}


def summary_record(confusion, history, net, train_set, test_set, options, load_seconds):
    """The summary/ record as a dict: test metrics, the network, the data, the settings and timings."""
    return {
        **metrics_record(confusion),
        "final_train_accuracy": history["accuracy"][-1] if history["accuracy"] else None,
        "final_cost": history["cost"][-1] if history["cost"] else None,
        "layer_sizes": net.sizes, "activation": net.activation, "loss": net.loss,
        "train_rows": train_set.rows, "test_rows": test_set.rows, "classes": train_set.classes,
        "settings": options,
        "load_seconds": load_seconds,
        "epoch_seconds": history["seconds"],
        "learning_rates": history["lr"],
        "test_accuracy_history": history["test_accuracy"],
    }


def metric_lines(confusion, examples, summary):
    """{output folder name: its lines} for the test metrics, the example pairs and the summary."""
    precision, recall, f1 = nn_math.precision_recall_f1(confusion)
    return {
        "metrics": [repr((float(p), float(r), float(f))) for p, r, f in zip(precision, recall, f1)],
        "tests": [repr(pair) for pair in examples],
        "confusion_matrix": [" ".join(str(n) for n in row) for row in confusion],
        "summary": [json.dumps(summary)],
    }


def output_lines(history, confusion, examples, summary, model_lines):
    """{output folder name: its lines}: everything a training run writes but its checkpoints."""
    return {
        "cost_history": [repr(c) for c in history["cost"]],
        "accuracy_history": [repr(a) for a in history["accuracy"]],
        "test_accuracy_history": [repr(pair) for pair in history["test_accuracy"]],
        **metric_lines(confusion, examples, summary),
        "model": model_lines,
    }
