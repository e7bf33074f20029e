"""The checkpoint file: the training state (training/state.py) written every --checkpoint-every
epochs and read back by --resume.

A checkpoint is two lines of JSON, a header with the SHA-256 of the second, the payload: the
state, the network, its input scaling and the settings that define the run. Written through
the Hadoop FileSystem API (hadoop_fs.py) as a file complete once renamed, the last two kept.
Floats are written by JSON's repr, so they read back bit for bit; nothing is pickled.
"""

import hashlib
import json
import re
from collections import namedtuple

import nn_math
from rddnet.errors import DataError
from rddnet.hadoop_fs import delete_path, list_names, read_text, rename_path, write_text
from rddnet.inputs.scaling import Scaling
from rddnet.training.state import TrainingState

CHECKPOINT_FORMAT = "mnist-mlp-checkpoint/1"
CHECKPOINT_NAME = re.compile(r"epoch-(\d{6})\.json")


# A checkpoint read back: the Network, the TrainingState, the input Scaling, the settings that
# define the run ({option: value}) and what it was trained on (loading.input_record; None in a
# checkpoint written before it was recorded).
Checkpoint = namedtuple("Checkpoint", "net state scaling settings inputs")


def checkpoint_text(state, net, scale, settings, inputs=None):
    """A checkpoint as two lines: a header with the payload's SHA-256, then the payload
    (the training state, the network, its input scaling, the settings that define the run and
    the record of its training inputs)."""
    payload = json.dumps({**state.to_json(), "network": net._asdict(), "scaling": scale.to_json(),
                          "settings": settings, "inputs": inputs})
    digest = hashlib.sha256(payload.encode("utf-8")).hexdigest()
    return json.dumps({"format": CHECKPOINT_FORMAT, "sha256": digest, "length": len(payload)}) + "\n" + payload + "\n"


def checkpoint_from_text(text, path):
    """The Checkpoint of checkpoint_text's output; DataError if truncated or corrupt. A checkpoint
    from before the scaling was saved has pixels' (divisor None: from the data)."""
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
    return Checkpoint(nn_math.Network(**data["network"]), TrainingState.from_json(data), scale, data["settings"],
                      data.get("inputs"))


def complete_checkpoints(sc, folder):
    """The names of the complete checkpoints in ``folder``, oldest first."""
    return sorted(name for name in list_names(sc, folder) if CHECKPOINT_NAME.fullmatch(name))


def save_checkpoint(sc, folder, state, net, scale, settings, inputs=None, keep=2):
    """Write epoch-NNNNNN.json under ``folder`` (complete once renamed), keep the newest ``keep``."""
    name = f"epoch-{state.epoch:06d}.json"
    write_text(sc, f"{folder}/{name}.incomplete", checkpoint_text(state, net, scale, settings, inputs))
    rename_path(sc, f"{folder}/{name}.incomplete", f"{folder}/{name}")
    for old in complete_checkpoints(sc, folder)[:-keep]:
        delete_path(sc, f"{folder}/{old}")


def load_last_checkpoint(sc, folder, log=print):
    """The Checkpoint of the newest readable complete checkpoint under
    ``folder``: one that cannot be read (truncated, corrupt) is passed over with a log line for the
    one before it. DataError for the newest one's fault if none can be read."""
    complete = complete_checkpoints(sc, folder)
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
