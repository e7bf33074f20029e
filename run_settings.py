"""What a training run follows and where it starts: its settings, as one record built once from
the options' values (option_table.py; with --resume, those a checkpoint kept), its network and
its first weights (fresh, from --init-model, or the checkpoint's training state).
"""

from collections import namedtuple
from dataclasses import dataclass

import numpy as np

import checkpoints
import model_file
import nn_math
from errors import DataError
from option_table import RUN_DEFINING
from scaling import Scaling


@dataclass(frozen=True)
class Settings:
    """How to train: the rule for each step, what each epoch samples, how long and what to record.
    Its values come from option_table.py, where their defaults are."""

    optimizer: nn_math.Optimizer
    schedule: nn_math.Schedule
    l1: float
    l2: float
    dropout: float
    sample_fraction: float
    seed: int
    local_steps: int  # > 1: model averaging
    dtype: str  # of the blocks, the broadcast weights and the matrix products
    epochs: int
    eval_every: int
    checkpoint_every: int

    @classmethod
    def from_values(cls, v):
        """From the options' values, {name: value} (option_table.with_defaults)."""
        optimizer = nn_math.Optimizer(v["optimizer"], momentum=v["momentum"], beta1=v["beta1"], beta2=v["beta2"])
        schedule = nn_math.Schedule(v["lr_schedule"], lr=v["lr"], lr_decay=v["lr_decay"], lr_step=v["lr_step"],
                                    bold_up=v["bold_up"], bold_down=v["bold_down"])
        plain = cls.__dataclass_fields__.keys() - {"optimizer", "schedule"}
        return cls(optimizer, schedule, **{key: v[key] for key in plain})

    @property
    def penalised(self):
        return self.l1 > 0 or self.l2 > 0


def run_defining(options, net):
    """The options that define a run, with the network's actual shape filled in: a checkpoint's settings."""
    settings = {key: options[key] for key in RUN_DEFINING}
    settings.update(hidden=list(net.sizes[1:-1]), activation=net.activation, loss=net.loss)
    return settings


# What a run starts from: the Network, its scaling.Scaling, the Settings, the TrainingState, and
# the settings as a dict of option values (the summary's).
Start = namedtuple("Start", "net scaling settings state options")


def starting_point(sc, args, data, checkpoint_folder=None, log=print):
    """The Start of a run on the training DataSet ``data``: fresh, from --init-model or --resume
    (from the folder ``checkpoint_folder``)."""
    if args.resume:
        net, state, scale, options = resume(sc, args, checkpoint_folder, data, log)
        return Start(net, resolved(scale, data), Settings.from_values(options), state, options)
    net, theta, scale = choose_network(sc, args, data, log)
    options = args.values
    settings = Settings.from_values(options)
    return Start(net, resolved(scale, data), settings, checkpoints.TrainingState.start(theta, settings), options)


def resolved(scale, data):
    """A saved Scaling with its divisor (None in files written before the scaling was saved) chosen
    from the data, as those versions did."""
    return Scaling.choose(scale.kind, data.moments) if scale.divisor is None else scale


def choose_network(sc, args, data, log=print):
    """(Network, initial theta, Scaling): from --init-model, or from the options, --init and
    --scale (the training set's statistics)."""
    if args.init_model:
        net, theta, scale = model_file.read_model(sc, args.init_model, log)
        for option, value, model_value in (("hidden", args.hidden, net.sizes[1:-1]),
                                           ("activation", args.activation, net.activation),
                                           ("loss", args.loss, net.loss), ("scale", args.scale, scale.kind)):
            if option in args.given and value != model_value:
                shown = [",".join(map(str, v)) if isinstance(v, list) else v for v in (value, model_value)]
                raise DataError(f"--{option} {shown[0]} differs from the model's {shown[1]} ({args.init_model})")
        check_shape(net, data, f"{args.init_model}: a model for")
        return net, theta, scale
    net = nn_math.Network([data.width, *args.hidden, data.classes], args.activation, args.loss)
    theta = nn_math.init_parameters(net.sizes, np.random.default_rng(args.seed), args.init)
    return net, theta, Scaling.choose(args.scale, data.moments)


def check_shape(net, data, what):
    """DataError "<what> N values and K classes, the data has ..." unless the network fits the data."""
    if (net.sizes[0], net.sizes[-1]) != (data.width, data.classes):
        raise DataError(f"{what} {net.sizes[0]} values and {net.sizes[-1]} classes, "
                        f"the data has {data.width} and {data.classes}")


def resume(sc, args, folder, data, log):
    """(Network, TrainingState, Scaling, options) of the last complete checkpoint in the folder
    ``folder``, whose settings are this run's. An option given on the command line must agree
    with it (but --epochs may grow)."""
    net, state, scale, kept = checkpoints.load_last_checkpoint(sc, folder, log)
    kept.setdefault("dtype", "float64")  # checkpoints written before --dtype: every run was float64
    for key in kept:
        if key in args.given and getattr(args, key) != kept[key]:
            raise DataError(f"--resume: the checkpoint was made with --{key.replace('_', '-')} {kept[key]}, "
                            f"this run has {getattr(args, key)}")
    check_shape(net, data, "--resume: the checkpoint's network takes")
    return net, state, scale, {**args.values, **kept}
