"""The training state: everything training carries from one epoch to the next (weights,
optimizer moments, learning rate, histories, early stopping's best), as JSON-ready data for a
checkpoint (outputs/checkpoints.py)."""

from dataclasses import dataclass, field

import numpy as np

from rddnet.training import optimizers


def empty_history():
    """Per epoch: cost, accuracy, lr, sample (rows), seconds; (epoch, test accuracy) pairs; and
    (epoch, validation cost, validation accuracy) of the weights after that many epochs."""
    return {"cost": [], "accuracy": [], "lr": [], "sample": [], "seconds": [], "test_accuracy": [], "validation": []}


@dataclass
class TrainingState:
    """Everything training carries from one epoch to the next, and a checkpoint saves.

    theta: the flat parameters (nn_math.layer_views); moments: the optimizer's arrays and
    counters (optimizers.Optimizer); lr: the last epoch's learning rate; previous_cost: its cost;
    best: early stopping's optimizers.Best (the weights of the lowest validation cost so far);
    plateau: the plateau schedule's (its wait starts again when it lowers the rate).
    """

    theta: np.ndarray
    moments: dict
    lr: float
    epoch: int = 0
    previous_cost: float = None
    history: dict = field(default_factory=empty_history)
    best: optimizers.Best = optimizers.NO_BEST
    plateau: optimizers.Best = optimizers.NO_BEST  # the plateau schedule's: no weights

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
    """An optimizers.Best as JSON-ready data (None before any validation)."""
    if best.epoch is None:
        return None
    return {**best._asdict(), "theta": None if best.theta is None else best.theta.tolist()}


def best_from_json(data):
    """best_to_json's inverse (a checkpoint from before validation has no record: NO_BEST)."""
    if not data:
        return optimizers.NO_BEST
    return optimizers.Best(**{**data, "theta": None if data["theta"] is None else np.array(data["theta"])})
