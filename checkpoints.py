"""The training state and its checkpoints: what training carries from one epoch to the next, written
every --checkpoint-every epochs and read back by --resume.

A checkpoint is two lines of JSON, a header with the SHA-256 of the second, the payload: the
state, the network, its input scaling and the settings that define the run. Written through
the Hadoop FileSystem API (hadoop_fs.py) as a file complete once renamed, the last two kept.
Floats are written by JSON's repr, so they read back bit for bit; nothing is pickled.
"""

import hashlib
import json
import re
from collections import namedtuple
from dataclasses import dataclass, field

import numpy as np

import nn_math
import nn_optim
from errors import DataError
from hadoop_fs import delete_path, list_names, read_text, rename_path, write_text
from scaling import Scaling


def empty_history():
    """Per epoch: cost, accuracy, lr, sample (rows), seconds; (epoch, test accuracy) pairs; and
    (epoch, validation cost, validation accuracy) of the weights after that many epochs."""
    return {"cost": [], "accuracy": [], "lr": [], "sample": [], "seconds": [], "test_accuracy": [], "validation": []}


@dataclass
class TrainingState:
    """Everything training carries from one epoch to the next, and a checkpoint saves.

    theta: the flat parameters (nn_math.layer_views); moments: the optimizer's arrays and
    counters (nn_optim.Optimizer); lr: the last epoch's learning rate; previous_cost: its cost;
    best: early stopping's nn_optim.Best (the weights of the lowest validation cost so far);
    plateau: the plateau schedule's (its wait starts again when it lowers the rate).
    """

    theta: np.ndarray
    moments: dict
    lr: float
    epoch: int = 0
    previous_cost: float = None
    history: dict = field(default_factory=empty_history)
    best: nn_optim.Best = nn_optim.NO_BEST
    plateau: nn_optim.Best = nn_optim.NO_BEST  # the plateau schedule's: no weights

    @classmethod
    def start(cls, theta, settings):
        """Before the first epoch: fresh moments and the initial learning rate of run_settings.Settings."""
        return cls(theta, settings.optimizer.initial_moments(theta), settings.schedule.lr)

    def to_json(self):
        """A JSON-ready dict (the checkpoint's payload keys)."""
        moments = {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in self.moments.items()}
        return {"epoch": self.epoch, "theta": self.theta.tolist(), "optimizer": moments, "lr": self.lr,
                "previous_cost": self.previous_cost, "history": self.history, "best": best_to_json(self.best),
                "plateau": best_to_json(self.plateau)}

    @classmethod
    def from_json(cls, data):
        moments = {k: np.array(v) if isinstance(v, list) else v for k, v in data["optimizer"].items()}
        history = {**empty_history(), **data["history"]}  # a checkpoint from before validation has none
        for key in ("test_accuracy", "validation"):
            history[key] = [tuple(entry) for entry in history[key]]
        return cls(theta=np.array(data["theta"], dtype=np.float64), moments=moments, lr=data["lr"],
                   epoch=data["epoch"], previous_cost=data["previous_cost"], history=history,
                   best=best_from_json(data.get("best")), plateau=best_from_json(data.get("plateau")))


def best_to_json(best):
    """An nn_optim.Best as JSON-ready data (None before any validation)."""
    if best.epoch is None:
        return None
    return {**best._asdict(), "theta": None if best.theta is None else best.theta.tolist()}


def best_from_json(data):
    """best_to_json's inverse (a checkpoint from before validation has no record: NO_BEST)."""
    if not data:
        return nn_optim.NO_BEST
    return nn_optim.Best(**{**data, "theta": None if data["theta"] is None else np.array(data["theta"])})


CHECKPOINT_FORMAT = "mnist-mlp-checkpoint/1"
CHECKPOINT_NAME = re.compile(r"epoch-(\d{6})\.json")


# A checkpoint read back: the Network, the TrainingState, the input Scaling, the settings that
# define the run ({option: value}) and what it was trained on (inputs.input_record; None in a
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


def save_checkpoint(sc, folder, state, net, scale, settings, inputs=None, keep=2):
    """Write epoch-NNNNNN.json under ``folder`` (complete once renamed), keep the newest ``keep``."""
    name = f"epoch-{state.epoch:06d}.json"
    write_text(sc, f"{folder}/{name}.incomplete", checkpoint_text(state, net, scale, settings, inputs))
    rename_path(sc, f"{folder}/{name}.incomplete", f"{folder}/{name}")
    complete = sorted(n for n in list_names(sc, folder) if CHECKPOINT_NAME.fullmatch(n))
    for old in complete[:-keep]:
        delete_path(sc, f"{folder}/{old}")


def load_last_checkpoint(sc, folder, log=print):
    """The Checkpoint of the newest readable complete checkpoint under
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
