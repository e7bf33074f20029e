"""Every option of the training job, declared once: the command line, the run's settings, what a
checkpoint keeps and --resume checks, and the help text are all built from OPTIONS.

Each row gives the option's flag, its kind (an argparse type from options.py, a tuple of
choices, or bool for a switch), its default, its --help group and text, whether it defines the
run (a checkpoint keeps it, --resume holds the command line to it, and for the network's options
--init-model's model decides it), and the name and type of its pyspark.ml Param (rddnet.ml): the
name of pyspark's own mixin where the meaning is the same (maxIter, stepSize, seed, labelCol,
featuresCol), the flag in camelCase otherwise. A default is written here, or read
from the one record that holds it (nn_math's Optimizer and Schedule keep their hyperparameters'),
or is a function of the other values (the learning-rate schedule follows the optimizer).

Adding an option is one row here, and the code that uses it.
"""

import argparse
from typing import NamedTuple

import nn_math
from rddnet.errors import exit_codes
from rddnet.inputs.frames import FRAME_FORMATS
from rddnet.inputs.scaling import SCALES
from rddnet.inputs.tables import FORMATS
from rddnet.options import (
    OneLineParser,
    at_least_zero,
    checked,
    class_weight,
    count,
    label_column,
    layers,
    names,
    positive,
    rate,
    whole,
)
from rddnet.training import optimizers

OPTIMIZER_DEFAULTS, SCHEDULE_DEFAULTS = optimizers.Optimizer._field_defaults, optimizers.Schedule._field_defaults


class Option(NamedTuple):
    flag: str  # on the command line, after "--"
    kind: object  # an argparse type, a tuple of choices, or bool: a switch
    default: object  # the value when not given; a function of the other values, when it follows them
    group: str  # its section of --help
    help: str
    defines_run: bool  # kept by a checkpoint, checked on --resume (the network's: from --init-model)
    param: str  # the name of a pyspark.ml Param for it
    param_type: str  # that Param's type
    metavar: str = None

    @property
    def name(self):
        """The option's name in the settings, a checkpoint and argparse: the flag with underscores."""
        return self.flag.replace("-", "_")


def default_schedule(values):
    """The learning-rate schedule when none is given: the original's bold driver for sgd; a
    constant rate for momentum and adam, which adapt their steps themselves."""
    return "bold-driver" if values["optimizer"] == "sgd" else "constant"


INPUTS, NETWORK = "inputs", "network (taken from --init-model when given)"
TRAINING, RATE, RUN = "training", "learning rate", "run"
fraction = checked(float, lambda v: 0 < v <= 1, "a number in (0, 1]")
seed = checked(int, lambda v: 0 <= v < 2 ** 63, "an integer >= 0")

OPTIONS = (
    Option("label-column", label_column, None, INPUTS, "the label is this column of each row (first, last, its "
           "number from 1, or a table's column name): one input holds a set's features and labels", False,
           "labelCol", "string", "first|last|N|NAME"),
    Option("features", names, None, INPUTS, "a table's features: one column of ML vectors or of arrays, or "
           "numeric columns a,b,c, each once and not the label (default: every numeric column but the label and "
           "those named like identifiers (id, *_id, index), in the table's order; without any, the one column of "
           "vectors or arrays)", False,
           "featuresCol", "list<string>", "COLUMNS"),
    Option("format", ("csv", *FORMATS, *FRAME_FORMATS), None, INPUTS, "how to read the inputs (default: from the "
           "files' names: .parquet, .orc and .json files are tables, anything else CSV)", False, "format",
           "string"),
    Option("table", bool, False, INPUTS, "the inputs are names of tables in the session's catalog (the cluster's "
           "Hive metastore where there is one), not paths", False, "table", "boolean"),
    Option("validation-fraction", rate, 0.0, INPUTS, "hold out this share of the training rows (by a seeded hash "
           "of each row's number: the same rows on any split) to validate on every epoch; never sampled, never in "
           "the scaling statistics", True, "validationFraction", "float"),
    Option("validation", str, None, INPUTS, "validation rows of their own, in the training input's layout and "
           "format: validated on every epoch", False, "validation", "string", "PATH"),
    Option("validation-labels", str, None, INPUTS, "the labels of --validation, in the five-path layout", False,
           "validationLabels", "string", "PATH"),
    Option("scale", ("auto", *SCALES), "auto", INPUTS, "inputs: pixels (/255, or as they are in [0, 1]), "
           "standardize (per feature, by the training set's mean and standard deviation) or none; auto is pixels "
           "if every value looks like one", True, "scale", "string"),
    Option("hidden", layers, [64], NETWORK, "hidden layer sizes, comma-separated", True, "hidden",
           "list<int>"),
    Option("activation", nn_math.HIDDEN_ACTIVATIONS, "tanh", NETWORK, "hidden layers", True, "activation", "string"),
    Option("loss", tuple(nn_math.LOSSES), "sse", NETWORK, "sse: sigmoid outputs, 1/2 sum (y - y*)^2, as the "
           "original; cross-entropy: softmax outputs", True, "loss", "string"),
    Option("init", ("uniform", "xavier", "he"), "uniform", NETWORK, "initial weights: uniform in [-0.5, 0.5) as "
           "the original, xavier or he", True, "init", "string"),
    Option("init-model", str, None, NETWORK, "start from the model/ folder of an earlier run (or the run's "
           "folder); with --epochs 0, only evaluate it", False, "initModel", "string", "PATH"),
    Option("epochs", whole, 100, TRAINING, "epochs; each is one gradient step, or --local-steps steps in every "
           "partition", False, "maxIter", "int"),
    Option("sample-fraction", fraction, 0.7, TRAINING, "share of the training rows in each epoch's mini-batch",
           True, "sampleFraction", "float"),
    Option("optimizer", optimizers.OPTIMIZERS, "sgd", TRAINING, "sgd as the original, momentum or adam", True,
           "optimizer", "string"),
    Option("momentum", rate, OPTIMIZER_DEFAULTS["momentum"], TRAINING, "for --optimizer momentum", True,
           "momentum", "float"),
    Option("beta1", rate, OPTIMIZER_DEFAULTS["beta1"], TRAINING, "for --optimizer adam", True, "beta1", "float"),
    Option("beta2", rate, OPTIMIZER_DEFAULTS["beta2"], TRAINING, "for --optimizer adam", True, "beta2", "float"),
    Option("local-steps", count, 1, TRAINING, "K > 1: each partition takes K optimizer steps on its share of the "
           "epoch's sample, then the driver averages the weights (model averaging); 1 = one data-parallel "
           "gradient step per epoch", True, "localSteps", "int"),
    Option("l2", at_least_zero, 0.0, TRAINING, "weight decay: + l2/2 sum W^2", True, "l2", "float"),
    Option("l1", at_least_zero, 0.0, TRAINING, "+ l1 sum |W|", True, "l1", "float"),
    Option("dtype", ("float32", "float64"), "float32", TRAINING, "the matrix products' precision; sums over rows, "
           "blocks and partitions, the weights and the optimizer's state stay float64", True, "dtype", "string"),
    Option("early-stopping", whole, 0, TRAINING, "stop after N validations in a row without a lower validation "
           "cost, and keep the weights of the lowest (0: never stop early)", True, "earlyStopping", "int",
           "N"),
    Option("min-delta", at_least_zero, 0.0, TRAINING, "early stopping: a validation cost lower by more than this "
           "counts as lower", True, "minDelta", "float"),
    Option("class-weight", class_weight, None, TRAINING, "weigh each row's loss and gradient by its class: "
           "balanced (n / (k n_c) over the training rows, as scikit-learn) or w0,w1,...; the training cost is then "
           "per unit of weight; validation and test figures stay unweighted", True, "classWeight", "string",
           "balanced|W0,W1,..."),
    Option("dropout", rate, 0.0, TRAINING, "inverted dropout rate on hidden units while training", True, "dropout",
           "float"),
    Option("input-dropout", rate, 0.0, TRAINING, "inverted dropout rate on the network's inputs while training",
           True, "inputDropout", "float"),
    Option("max-norm", at_least_zero, 0.0, TRAINING, "after every step, scale each unit's incoming weights down to "
           "this Euclidean norm where they are longer (0: off)", True, "maxNorm", "float"),
    Option("lr", positive, 0.1, RATE, "initial learning rate", True, "stepSize", "float"),
    Option("lr-schedule", optimizers.SCHEDULES, default_schedule, RATE, "bold-driver: x up when the cost fell, x down "
           "otherwise; step: x decay every --lr-step epochs; exponential: x decay every epoch; plateau: x decay after "
           "--lr-patience validations without a lower validation cost; cosine: from --lr down to 0 over --epochs on "
           "half a cosine (default: "
           "bold-driver for sgd, as the original; constant for momentum and adam, whose users expect the rate "
           "they gave)", True, "lrSchedule", "string"),
    Option("bold-up", positive, SCHEDULE_DEFAULTS["bold_up"], RATE, "bold driver: factor when the cost fell", True,
           "boldUp", "float"),
    Option("bold-down", positive, SCHEDULE_DEFAULTS["bold_down"], RATE, "bold driver: factor when it did not",
           True, "boldDown", "float"),
    Option("lr-decay", positive, SCHEDULE_DEFAULTS["lr_decay"], RATE, "factor for step, exponential and plateau", True,
           "lrDecay", "float"),
    Option("lr-step", count, SCHEDULE_DEFAULTS["lr_step"], RATE, "epochs per step", True, "lrStep",
           "int"),
    Option("lr-patience", count, SCHEDULE_DEFAULTS["lr_patience"], RATE, "plateau: validations without a lower "
           "cost before the rate is multiplied by --lr-decay", True, "lrPatience", "int"),
    Option("eval-every", whole, 0, RUN, "test accuracy every N epochs, 0 = only at the end", False, "evalEvery",
           "int"),
    Option("block-size", count, 1024, RUN, "rows per RDD element; 1 = the original's one row per element", False,
           "blockSize", "int"),
    Option("seed", seed, 42, RUN, "seeds the initial weights, every sample and dropout mask", True, "seed", "int"),
    Option("overwrite", bool, False, RUN, "replace an OUTPUT_DIR of this job's outputs, once the new outputs are "
           "complete", False, "overwrite", "boolean"),
    Option("checkpoint-every", whole, 0, RUN, "save the training state every N epochs (0: never); they end up "
           "in OUTPUT_DIR/checkpoints", False, "checkpointEvery", "int"),
    Option("resume", bool, False, RUN, "continue from the last complete checkpoint of OUTPUT_DIR, with its "
           "settings", False, "resume", "boolean"),
)
BY_FLAG = {option.flag: option for option in OPTIONS}
RUN_DEFINING = tuple(option.name for option in OPTIONS if option.defines_run)


def shown(value):
    """A default as --help shows it: lists comma-separated, like the command line takes them."""
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def add_to(parser, flags=None, defaults=False):
    """Add the options (every one, or those of ``flags``) to an argparse parser, in their groups.
    Unless ``defaults``, nothing defaults in argparse: the parsed namespace holds exactly what the
    command line gave (with_defaults fills in the rest)."""
    groups = {}
    for option in OPTIONS if flags is None else [BY_FLAG[flag] for flag in flags]:
        group = groups.get(option.group) or groups.setdefault(option.group, parser.add_argument_group(option.group))
        text = option.help
        if option.default is not None and option.kind is not bool and not callable(option.default):  # 0 too
            text += f" (default: {shown(option.default)})"
        keywords = {"help": text.replace("%", "%%"), "default": option.default if defaults else argparse.SUPPRESS}
        if option.kind is bool:
            keywords["action"] = "store_true"
        elif isinstance(option.kind, tuple):
            keywords["choices"] = option.kind
        else:
            keywords.update(type=option.kind, metavar=option.metavar)
        group.add_argument(f"--{option.flag}", **keywords)


def with_defaults(given):
    """{name: value} of every option: ``given`` ({name: value}, what the command line gave), the
    other options at their defaults (those that follow other values, once those are known)."""
    values = {option.name: given.get(option.name, option.default) for option in OPTIONS}
    for option in OPTIONS:
        if option.name not in given and callable(option.default):
            values[option.name] = option.default(values)
    return values


def watching_validation(values):
    """(the Option, its value) of the option values ``values`` that watches the validation cost
    and so needs validation rows: early stopping, or the plateau schedule; None if neither."""
    if values["early_stopping"]:
        return BY_FLAG["early-stopping"], values["early_stopping"]
    if values["lr_schedule"] == "plateau":
        return BY_FLAG["lr-schedule"], "plateau"
    return None


def training_parser(prog, description):
    """The job's parser: OneLineParser (one-line mistakes) with every option of the table."""
    parser = OneLineParser(prog=prog, description=description, codes=exit_codes(diverges=True))
    add_to(parser)
    return parser
