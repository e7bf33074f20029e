"""The model file: model/ of a run, read by predict.py, --init-model and the plots.

JSON lines: a header (format, network, input scaling, and what the model was trained on: its
feature columns, label column and classes), then per layer a line of its biases and one line per
row of its weights, in any order. Floats are written by JSON's repr, so they read
back bit for bit; nothing is pickled. Read strictly: every fault is one line that names the file
and, where there is one, its line.
"""

import json
import os
import re
from collections import namedtuple

import numpy as np

import nn_math
from rddnet.errors import DataError
from rddnet.hadoop_fs import input_exists, input_files, list_names, read_text
from rddnet.inputs.scaling import Scaling

# 2: the header has the input scaling; 3: and what the model was trained on (its "inputs").
MODEL_FORMAT = "rddnet-model/3"
MODEL_FORMATS = ("mnist-mlp-model/1", "mnist-mlp-model/2", MODEL_FORMAT)

# A model read back: the Network, its weights theta, the input scaling.Scaling, and the record of
# what it was trained on (loading.trained_inputs: feature columns, label column, classes), or None
# for a model written before it was recorded.
Model = namedtuple("Model", "net theta scaling inputs")


def model_to_lines(net, theta, scale, inputs=None):
    """The model as JSON lines: a header (format, network, input scaling, ``inputs``: what it was
    trained on), then per layer a line {"layer", "b"} and one line {"layer", "row", "W"} per row of W."""
    header = {"format": MODEL_FORMAT, "layer_sizes": list(net.sizes), "activation": net.activation,
              "loss": net.loss, "activations": net.activations, "scaling": scale.to_json(), "inputs": inputs}
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
    """The Model of the records model_to_lines wrote, in any order.

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
    return Model(net, theta, scale, header.get("inputs"))


def model_from_lines(lines, path="model"):
    """The Model of the lines model_to_lines wrote, in any order."""
    return model_from_records(model_records(lines, path), path)


def model_files(sc, path, log):
    """(the folder of a model: ``path``, or its model/ when ``path`` is a run's output folder (said
    in the log); its files). DataError if there is none, or it holds other files than a model's."""
    if not input_exists(sc, path):
        raise DataError(f"{path}: file not found")
    names = list_names(sc, path)
    if "model" in names and not any(name.startswith("part-") for name in names):
        log(f"{path} is a run's output folder: reading its model/")
        path = f"{path.rstrip('/')}/model"
    files = [name for name, _ in input_files(sc, path)]
    others = [os.path.basename(name) for name in files if not re.fullmatch(r"part-\d+", os.path.basename(name))]
    if others and files != [path]:  # a model file named as it is is read whatever its name
        raise DataError(f"{path}: not a model folder (it holds {others[0]}): a model is the model/ folder of a "
                        "training run's OUTPUT_DIR, its JSON lines in part-00000, or that OUTPUT_DIR")
    return path, files


def over_connect(spark):
    """True for a Spark Connect session: no SparkContext, no JVM on this side, no Hadoop helpers."""
    from pyspark.sql.utils import is_remote
    return is_remote() or type(spark).__module__.startswith("pyspark.sql.connect")


def read_model_through(spark, path):
    """The Model of ``path`` (a model/ folder, a run's or a saved model's folder holding one) read
    with the session's own reader, as Spark Connect allows: its files as lines of text."""
    for folder in (f"{path.rstrip('/')}/model", path):
        try:
            lines = [row.value for row in spark.read.text(folder).collect()]
        except Exception:  # no such folder: Spark's AnalysisException, through Connect or not
            continue
        try:
            return model_from_lines(lines, folder)
        except ValueError as e:
            raise DataError(str(e)) from None
    raise DataError(f"{path}: file not found: a model is the model/ folder of a training run's OUTPUT_DIR, or a "
                    "saved model's folder")


def read_model(sc, path, log=print):
    """The Model of a model/ folder written by an earlier run (or the run's folder), read on the
    driver file by file: every fault is one line naming the file and, where there is one, its line."""
    folder, files = model_files(sc, path, log)
    records = []
    for name in files:
        try:
            records.extend(model_records(read_text(sc, name).splitlines(), name))
        except ValueError as e:
            raise DataError(str(e)) from None
    try:
        return model_from_records(records, folder)
    except ValueError as e:
        raise DataError(str(e)) from None
