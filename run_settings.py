"""The settings a training run follows, as one record built once from the command line's
options (or, with --resume, from those a checkpoint kept).

The optimizer's and the schedule's settings are nn_math's own records; their fields are named
after the options, so a new hyperparameter is a field there and an option in main_task.py.
"""

from dataclasses import dataclass

import nn_math

NETWORK_OPTIONS = ("hidden", "activation", "loss", "init")
OPTIMIZER_OPTIONS = ("optimizer", *nn_math.Optimizer._fields[1:])
SCHEDULE_OPTIONS = ("lr_schedule", *nn_math.Schedule._fields[1:])
# What defines a run: a checkpoint keeps these, and --resume continues with them (--epochs may grow).
RUN_DEFINING = (*NETWORK_OPTIONS, *OPTIMIZER_OPTIONS, *SCHEDULE_OPTIONS, "l1", "l2", "dropout", "sample_fraction",
                "seed", "local_steps")


@dataclass(frozen=True)
class Settings:
    """How to train: the rule for each step, what each epoch samples, how long and what to record."""

    optimizer: nn_math.Optimizer
    schedule: nn_math.Schedule
    l1: float = 0.0
    l2: float = 0.0
    dropout: float = 0.0
    sample_fraction: float = 0.7
    seed: int = 42
    local_steps: int = 1  # > 1: model averaging
    epochs: int = 100
    eval_every: int = 0
    checkpoint_every: int = 0

    @classmethod
    def from_options(cls, options):
        """From a dict of option values (argparse's dests), every field's option present."""
        optimizer = nn_math.Optimizer(*(options[key] for key in OPTIMIZER_OPTIONS))
        schedule = nn_math.Schedule(*(options[key] for key in SCHEDULE_OPTIONS))
        plain = cls.__dataclass_fields__.keys() - {"optimizer", "schedule"}
        return cls(optimizer, schedule, **{key: options[key] for key in plain})

    @property
    def penalised(self):
        return self.l1 > 0 or self.l2 > 0


def run_defining(options, net):
    """The options that define a run, with the network's actual shape filled in: a checkpoint's settings."""
    settings = {key: options[key] for key in RUN_DEFINING}
    settings.update(hidden=list(net.sizes[1:-1]), activation=net.activation, loss=net.loss)
    return settings
