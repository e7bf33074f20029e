"""What a training run follows and where it starts: its settings, as one record built once from
the options' values (option_table.py; with --resume, those a checkpoint kept), its network and
its first weights (fresh, from --init-model, or the checkpoint's training state).
"""

import dataclasses
from collections import namedtuple
from dataclasses import dataclass

import numpy as np

import nn_math
from rddnet.errors import DataError
from rddnet.option_table import RUN_DEFINING
from rddnet.outputs import checkpoints, model_file
from rddnet.training import evaluation, optimizers
from rddnet.training.state import TrainingState


@dataclass(frozen=True)
class Settings:
    """How to train: the rule for each step, what each epoch samples, how long and what to record.
    Its values come from option_table.py, where their defaults are."""

    optimizer: optimizers.Optimizer
    schedule: optimizers.Schedule
    l1: float
    l2: float
    dropout: float
    input_dropout: float
    max_norm: float  # > 0: the constraint applied after every step
    sample_fraction: float
    seed: int
    local_steps: int  # > 1: model averaging
    dtype: str  # of the blocks, the broadcast weights and the matrix products
    epochs: int
    eval_every: int
    checkpoint_every: int
    validation_fraction: float  # > 0: rows held out, validated in each epoch's job
    early_stopping: int  # patience in validations; 0: never stop early
    min_delta: float
    class_weights: object = None  # (k,) float64, resolved from --class-weight once the data is known

    @classmethod
    def from_values(cls, v):
        """From the options' values, {name: value} (option_table.with_defaults)."""
        optimizer = optimizers.Optimizer(v["optimizer"], momentum=v["momentum"], beta1=v["beta1"], beta2=v["beta2"])
        schedule = optimizers.Schedule(v["lr_schedule"], lr=v["lr"], lr_decay=v["lr_decay"], lr_step=v["lr_step"],
                                    bold_up=v["bold_up"], bold_down=v["bold_down"], lr_patience=v["lr_patience"],
                                    epochs=v["epochs"])
        plain = cls.__dataclass_fields__.keys() - {"optimizer", "schedule", "class_weights"}
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

# What a run continues from, read before its data: --resume's checkpoint or --init-model's model.
# net, scaling (the saved scaling.Scaling), state (a TrainingState), options (as for Start),
# source (how check_shape names it), inputs (a checkpoint's record of the files it was trained on:
# loading.input_record; None for a model or a checkpoint without one) and trained (a model's record
# of the columns it was trained on: loading.trained_inputs; None for a checkpoint or an older model).
Earlier = namedtuple("Earlier", "net scaling state options source inputs trained", defaults=(None, None))


def read_earlier(sc, args, checkpoint_folder=None, log=print):
    """The Earlier of a run with --resume (the last checkpoint in ``checkpoint_folder``) or
    --init-model, or None for a fresh run: read and checked against the options before any data."""
    if args.resume:
        checkpoint, options = resume(sc, args, checkpoint_folder, log)
        return Earlier(checkpoint.net, checkpoint.scaling, checkpoint.state, options,
                       "--resume: the checkpoint's network takes", checkpoint.inputs)
    if args.init_model:
        model = initial_model(sc, args, log)
        state = TrainingState.start(model.theta, Settings.from_values(args.values))
        return Earlier(model.net, model.scaling, state, args.values, f"{args.init_model}: a model for",
                       trained=model.inputs)
    return None


def starting_point(values, data, earlier=None):
    """The Start of a run on the training DataSet ``data`` (scaled as it will be trained): from
    ``earlier`` (read_earlier's), or a fresh network of the shape the option values ``values``
    ({name: value} of every option, option_table.with_defaults') give, with their --init weights."""
    if earlier is not None:
        check_shape(earlier.net, data, earlier.source)
        return Start(earlier.net, data.scaling, Settings.from_values(earlier.options), earlier.state, earlier.options)
    net = nn_math.Network([data.width, *values["hidden"], data.classes], values["activation"], values["loss"])
    theta = nn_math.init_parameters(net.sizes, np.random.default_rng(values["seed"]), values["init"])
    settings = Settings.from_values(values)
    return Start(net, data.scaling, settings, TrainingState.start(theta, settings), values)


def weighing_classes(sc, start, train_set, log):
    """The Start with its settings' class weights resolved from --class-weight (balanced: from the
    training rows' classes, a Spark job); one-line error for a list of another length."""
    spec = start.options["class_weight"]
    if spec is None:
        return start
    if spec != "balanced" and len(spec) != train_set.classes:
        raise DataError(f"--class-weight gives {len(spec)} weights, the training labels have {train_set.classes} "
                        "classes")
    counts = evaluation.class_counts(sc, train_set, start.settings.seed, start.settings.validation_fraction)
    weights = nn_math.class_weights(spec, counts)
    log(f"class weights: {', '.join(f'{w:.4g}' for w in weights)} (training rows per class: "
        f"{', '.join(map(str, counts))})")
    empty = np.flatnonzero(counts == 0).tolist()
    if empty:  # balanced weights are 0 there: nothing to weigh, and nothing the network can learn of them
        log(f"class{'es' if len(empty) > 1 else ''} {', '.join(map(str, empty))} "
            f"{'have' if len(empty) > 1 else 'has'} no training rows: weight 0, and the network cannot learn "
            f"{'them' if len(empty) > 1 else 'it'}")
    return start._replace(settings=dataclasses.replace(start.settings, class_weights=weights))


def initial_model(sc, args, log=print):
    """The model_file.Model of --init-model, which must agree with the network options given."""
    model = model_file.read_model(sc, args.init_model, log)
    net, scale = model.net, model.scaling
    for option, value, model_value in (("hidden", args.hidden, net.sizes[1:-1]),
                                       ("activation", args.activation, net.activation),
                                       ("loss", args.loss, net.loss), ("scale", args.scale, scale.kind)):
        if option in args.given and value != model_value:
            shown = [",".join(map(str, v)) if isinstance(v, list) else v for v in (value, model_value)]
            raise DataError(f"--{option} {shown[0]} differs from the model's {shown[1]} ({args.init_model})")
    return model


def check_shape(net, data, what):
    """DataError "<what> N values and K classes, the data has ..." unless the network fits the data."""
    if (net.sizes[0], net.sizes[-1]) != (data.width, data.classes):
        raise DataError(f"{what} {net.sizes[0]} values and {net.sizes[-1]} classes, "
                        f"the data has {data.width} and {data.classes}")


def resume(sc, args, folder, log):
    """(the Checkpoint, the options) of the last complete checkpoint in the folder ``folder``,
    whose settings are this run's. An option given on the command line must agree with it (but
    --epochs may grow)."""
    checkpoint = checkpoints.load_last_checkpoint(sc, folder, log)
    kept = checkpoint.settings
    kept.setdefault("dtype", "float64")  # checkpoints written before --dtype: every run was float64
    for key in kept:
        if key in args.given and getattr(args, key) != kept[key]:
            raise DataError(f"--resume: the checkpoint was made with --{key.replace('_', '-')} {kept[key]}, "
                            f"this run has {getattr(args, key)}")
    return checkpoint, {**args.values, **kept}


def check_same_inputs(earlier, record):
    """DataError naming what changed if a resumed run's training inputs (``record``:
    loading.input_record) are not those its checkpoint was trained on (``earlier``'s, when it
    recorded them). Files are compared by path and size; the rows once both have them."""
    if earlier is None or earlier.inputs is None:
        return
    was, now = dict(map(tuple, earlier.inputs["files"])), dict(map(tuple, record["files"]))
    changed = [path for path in now if path in was and was[path] != now[path]]
    new, gone = [path for path in now if path not in was], [path for path in was if path not in now]
    if changed:
        what = f"{changed[0]} has changed since ({was[changed[0]]:,} bytes then, {now[changed[0]]:,} now)"
    elif new or gone:
        what = (f"it was trained on {', '.join(gone) or 'fewer files'}; this run reads "
                f"{', '.join(new) or 'fewer files'}")
    elif None not in (earlier.inputs.get("rows"), record.get("rows")) and earlier.inputs["rows"] != record["rows"]:
        what = f"it was trained on {earlier.inputs['rows']:,} rows; this run's training set has {record['rows']:,}"
    else:
        return
    raise DataError(f"--resume: the checkpoint's training inputs differ: {what}; resume on the inputs it was trained "
                    "on, or start afresh with --overwrite")
