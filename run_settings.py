"""What a training run follows and where it starts: its settings, as one record built once from
the command line's options (or, with --resume, from those a checkpoint kept), its network and
its first weights (fresh, from --init-model, or the checkpoint's training state).

The optimizer's and the schedule's settings are nn_math's own records; their fields are named
after the options, so a new hyperparameter is a field there and an option in main_task.py.
"""

from dataclasses import dataclass

import numpy as np

import nn_math
import saved
from errors import DataError

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


def option_values(args):
    """The command line's option values as a dict (argparse's dests)."""
    return {key: value for key, value in vars(args).items() if key != "given"}


def starting_point(sc, args, data, output_dir):
    """(Network, Settings, TrainingState, options) a run starts from; options are the settings as
    a dict of option values (the summary's settings)."""
    if args.resume:
        net, state, options = resume(sc, args, output_dir, data)
        return net, Settings.from_options(options), state, options
    net, theta = choose_network(sc, args, data)
    options = option_values(args)
    settings = Settings.from_options(options)
    return net, settings, saved.TrainingState.start(theta, settings), options


def choose_network(sc, args, data):
    """(Network, initial theta): from --init-model, or from the options and --init."""
    if args.init_model:
        net, theta = saved.read_model(sc, args.init_model)
        for option, value, model_value in (("hidden", args.hidden, net.sizes[1:-1]),
                                           ("activation", args.activation, net.activation),
                                           ("loss", args.loss, net.loss)):
            if value is not None and value != model_value:
                shown = [",".join(map(str, v)) if isinstance(v, list) else v for v in (value, model_value)]
                raise DataError(f"--{option} {shown[0]} differs from the model's {shown[1]} ({args.init_model})")
        check_shape(net, data, f"{args.init_model}: a model for")
        return net, theta
    net = nn_math.Network([data.width, *(args.hidden or [64]), data.classes],
                          args.activation or "tanh", args.loss or "sse")
    return net, nn_math.init_parameters(net.sizes, np.random.default_rng(args.seed), args.init)


def check_shape(net, data, what):
    """DataError "<what> N values and K classes, the data has ..." unless the network fits the data."""
    if (net.sizes[0], net.sizes[-1]) != (data.width, data.classes):
        raise DataError(f"{what} {net.sizes[0]} values and {net.sizes[-1]} classes, "
                        f"the data has {data.width} and {data.classes}")


def resume(sc, args, output_dir, data):
    """(Network, TrainingState, options) of the last complete checkpoint, whose settings are this
    run's. An option given on the command line must agree with it (but --epochs may grow)."""
    net, state, kept = saved.load_last_checkpoint(sc, f"{output_dir}/checkpoints")
    for key in kept:
        if key in args.given and getattr(args, key) != kept[key]:
            raise DataError(f"--resume: the checkpoint was made with --{key.replace('_', '-')} {kept[key]}, "
                            f"this run has {getattr(args, key)}")
    check_shape(net, data, "--resume: the checkpoint's network takes")
    return net, state, {**option_values(args), **kept}
