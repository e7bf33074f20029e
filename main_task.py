"""Train a fully connected network on MNIST with PySpark RDDs: map steps, then a tree reduce.

    spark-submit main_task.py TRAIN_IMAGES TRAIN_LABELS TEST_IMAGES TEST_LABELS OUTPUT_DIR [options]
    spark-submit main_task.py TRAIN TEST OUTPUT_DIR --label-column first|last|N|NAME [options]

    spark-submit --master 'local[2]' main_task.py data/mnist_images_train.csv \\
        data/mnist_labels_train.csv data/mnist_images_test.csv data/mnist_labels_test.csv output/run

The inputs (CSV files, or a table's Parquet or ORC files) are parsed once into cached blocks of
rows (rddnet/inputs/). The training loop is rddnet/training/loop.py's; each epoch is one Spark
job, one of two kinds:
  - data-parallel (the default, as the original; training/epoch_tasks.py): broadcast the weights
    theta; in chained map steps over each block, keep the epoch's sampled rows (a mask fixed by
    seed, epoch and row number), propagate forward (z = h W + b, then h = f(z), dropout masked)
    layer by layer and backward (the output delta, then each layer's gradients and the delta
    below); treeAggregate the sums of error, correct predictions, rows and gradient. The driver
    divides by the rows once, adds any L1/L2 penalty, sets the learning rate (bold driver by
    default) and takes one optimizer step.
  - model averaging (--local-steps K > 1; training/averaging.py): broadcast theta and the
    optimizer's moments; every partition takes K optimizer steps on its share of the sample;
    treeAggregate sums them weighted by rows, and their average is the new theta and moments.
Every formula is in nn_math.py; the outputs are written by rddnet/outputs/. This file is the
driver: the command line, then load, train, evaluate and write. predict.py scores new rows with
a saved model.
"""

import argparse
import sys
import time
from functools import partial

import numpy as np

from rddnet import option_table
from rddnet.errors import EXIT_BAD_INPUT, EXIT_DIVERGED, DataError, Diverged
from rddnet.inputs.data_set import cached_bytes
from rddnet.inputs.loading import (
    Reading,
    columns_in_words,
    input_record,
    input_spec_for_model,
    load_input,
    peek_shape,
    reading_in_words,
    trained_inputs,
)
from rddnet.outputs import checkpoints, model_file, onnx_export, output_folder, run_report
from rddnet.run_settings import check_same_inputs, read_earlier, run_defining, starting_point, weighing_classes
from rddnet.script_run import run_with_spark
from rddnet.training import evaluation, loop, memory_check

# ------------------------------------------------------------- command line

def parse_args(argv):
    """The command line: the paths, and every option of option_table.OPTIONS (its value, or its
    default); ``given`` names the options the command line gave."""
    parser = option_table.training_parser(
        "main_task.py", "Train a fully connected network on CSV files or tables with Spark RDDs.")
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="TRAIN_IMAGES TRAIN_LABELS TEST_IMAGES TEST_LABELS OUTPUT_DIR, or with --label-column "
                             "TRAIN TEST OUTPUT_DIR: CSV files (any Hadoop path, plain or .gz) or tables (Parquet, "
                             "ORC, JSON lines; with --table, catalog tables' names), then the folder to create for "
                             "the outputs")
    given = vars(parser.parse_args(argv))
    paths = given.pop("paths")
    values = option_table.with_defaults(given)
    names = ("train_images", "test_images", "output_dir") if values["label_column"] else (
        "train_images", "train_labels", "test_images", "test_labels", "output_dir")
    if len(paths) != len(names):
        hint = "" if values["label_column"] else "; a table, or CSV files that hold their labels, take TRAIN TEST " \
            "OUTPUT_DIR with --label-column"
        parser.error(f"the following arguments are required: {' '.join(n.upper() for n in names)} "
                     f"(given {len(paths)} paths{hint})")
    if values["epochs"] == 0 and not (values["init_model"] or values["resume"]):
        parser.error("--epochs 0 trains nothing: it evaluates the model given with --init-model")
    check_validation(parser, values)
    files = {"train_labels": None, "test_labels": None, **dict(zip(names, paths))}
    return argparse.Namespace(**files, **values, values=values, given=set(given))


def check_validation(parser, values):
    """One-line errors for validation options that cannot go together."""
    if values["validation_fraction"] and values["validation"]:
        parser.error("--validation-fraction and --validation both give validation rows: choose one")
    if values["validation_labels"] and not values["validation"]:
        parser.error("--validation-labels labels the rows of --validation, which is not given")
    if values["validation"] and not values["label_column"] and not values["validation_labels"]:
        parser.error("--validation needs --validation-labels in the five-path layout (or --label-column)")
    watching = option_table.watching_validation(values)
    if watching and not (values["validation_fraction"] or values["validation"]):
        option, value = watching
        what = f"--{option.flag}" + (f" {value}" if option.flag == "lr-schedule" else "")
        parser.error(f"{what} watches the validation cost: give --validation-fraction F or --validation PATH")


# --------------------------------------------------------------------- main

def run(sc, args, log=print):
    """Load, train, evaluate and write. Outputs are written into a staging folder and take
    OUTPUT_DIR's place only when all are written; a diverged run still writes them (last finite
    model) and raises Diverged."""
    inputs = {"TRAIN_IMAGES": args.train_images, "TRAIN_LABELS": args.train_labels, "TEST_IMAGES": args.test_images,
              "TEST_LABELS": args.test_labels} if not args.table else {}  # --table: names, not paths
    inputs["--init-model"] = args.init_model
    with output_folder.open_staging(sc, args.output_dir, log, inputs, overwrite=args.overwrite,
                                    resume=args.resume) as staging:
        return train_and_write(sc, args, staging, log)


def train_and_write(sc, args, staging, log):
    """run()'s work, into the Staging folder ``staging``: load, train, evaluate, write."""
    earlier = read_earlier(sc, args, staging.resume_from, log)  # a checkpoint or model: checked before the data
    trained_on = input_record(sc, args.train_images, args.train_labels, args.table)
    check_same_inputs(earlier, trained_on)
    started = time.perf_counter()
    train_set, test_set, validation = load_sets(sc, args, earlier, log)
    load_seconds = time.perf_counter() - started
    trained_on["rows"] = train_set.rows
    check_same_inputs(earlier, trained_on)
    start = weighing_classes(sc, starting_point(args.values, train_set, earlier), train_set, log)
    cached = cached_bytes(sc, train_set.cached)
    log_loaded(sc, args, start, train_set, test_set, load_seconds, cached, log)
    if validation is not None:
        log(f"validating on {validation_rows(validation, train_set)} rows "
            f"({'held out of the training rows' if validation.holdout else args.validation}) every epoch")
    # Training, its checkpoints in the staging folder; a run that diverged still writes its outputs.
    save = partial(checkpoints.save_checkpoint, sc, staging.checkpoints, net=start.net, scale=start.scaling,
                   settings=run_defining(start.options, start.net), inputs=trained_on)
    if args.resume and staging.resume_from != staging.checkpoints:  # so that OUTPUT_DIR keeps a checkpoint
        save(start.state)
    diverged = None
    try:
        loop.train(sc, train_set, start.net, start.state, start.settings, log, test_set, checkpoint=save,
                       validation=validation)
    except Diverged as e:
        diverged = e
    summary = write_results(sc, staging, start, (train_set, test_set, validation), load_seconds, cached, diverged,
                            log)
    if diverged:
        raise diverged
    seconds = start.state.history["seconds"]
    log(f"done in {loop.clock(time.perf_counter() - started)}: test accuracy {summary['test_accuracy']:.4f}, "
        f"macro F1 {summary['macro_f1']:.4f}; training {sum(seconds):.1f} s "
        f"({sum(seconds) / max(1, len(seconds)):.2f} s per epoch); outputs in {staging.output_dir}")
    return summary


def load_sets(sc, args, earlier, log):
    """(training DataSet, test DataSet), scaled as the Earlier run ``earlier`` was or as --scale
    chooses from the training set; a fresh network is first checked to fit (memory_check)."""
    reading = Reading(args.label_column, args.features, args.format, args.table)
    spec_of = partial(input_spec_for_model, sc, reading=reading, trained=earlier and earlier.trained,
                      model=args.init_model)  # --init-model's columns, when its model recorded them
    train_spec = spec_of(args.train_images, args.train_labels)
    test_spec = spec_of(args.test_images, args.test_labels)
    valid_spec = spec_of(args.validation, args.validation_labels) if args.validation else None
    if earlier is None:  # a network that was trained before fitted then
        width, classes = peek_shape(sc, train_spec)
        memory_check.check(sc, [width, *args.hidden, classes], args.optimizer, np.dtype(args.dtype).itemsize,
                           args.block_size)
    log(f"loading {args.train_images} and {args.test_images} ...")
    options = earlier.options if earlier else args.values  # a resumed run's are its checkpoint's
    fraction = options["validation_fraction"]
    train_set = load_input(sc, train_spec, args.block_size, earlier.scaling if earlier else args.scale,
                           holdout=(options["seed"], fraction))
    like_training = {"n_classes": train_set.classes, "width": train_set.width}
    test_set = load_input(sc, test_spec, args.block_size, train_set.scaling, **like_training)
    if fraction:  # (load_input has checked that the share leaves rows to train and to validate on)
        return train_set, test_set, loop.Validation(train_set, fraction)
    if valid_spec is None:
        return train_set, test_set, None
    valid_set = load_input(sc, valid_spec, args.block_size, train_set.scaling, **like_training)
    return train_set, test_set, loop.Validation(valid_set)


def validation_rows(validation, train_set):
    """The number of rows a run validates on."""
    if validation is None:
        return 0
    return train_set.held_rows if validation.holdout else validation.data.rows


def log_loaded(sc, args, start, train_set, test_set, load_seconds, cached, log):
    """The log lines of what was loaded: the files of a set of several, the header lines skipped,
    the sets and the network, and why a set that --scale auto standardized is not pixels."""
    net, scale = start.net, start.scaling
    for name, data in (("training", train_set), ("test", test_set)):
        for part, files in data.files.items():
            if len(files) > 1:
                log(f"{name} {part}: {len(files)} files, read in this order: {', '.join(files)}")
    headers = [f"{data.headers[part]} {name} {part} header line{'s' * (data.headers[part] > 1)} skipped"
               for name, data in (("training", train_set), ("test", test_set)) for part in ("features", "labels")
               if data.headers[part]]
    memory, disk = cached
    log(f"loaded {train_set.rows} training and {test_set.rows} test rows of {train_set.width} values, "
        f"{train_set.classes} classes, in {load_seconds:.1f} s (training set cached: {memory / 2 ** 20:.0f} MB in "
        f"memory, {disk / 2 ** 20:.0f} MB on disk{''.join(f'; {h}' for h in headers)}); "
        f"network {'-'.join(map(str, net.sizes))} ({net.activation} hidden, {net.loss} loss, {scale.kind} "
        f"inputs), {sc.defaultParallelism} cores, Spark {sc.version}"
        + (f"; resuming after epoch {start.state.epoch}" if args.resume else ""))
    columns = columns_in_words(train_set)
    if columns:
        log(f"training columns: {columns}")
    for name, data in (("training", train_set), ("test", test_set)):
        for line in reading_in_words(data):
            log(f"{name} table: {line}")
    if scale.kind == "standardize" and args.scale == "auto" and not args.resume and not args.init_model:
        log(f"--scale auto: standardizing, not pixels, because of {why_not_pixels(train_set.not_pixels)}")


def write_results(sc, staging, start, sets, load_seconds, cached, diverged, log):
    """Evaluate the weights the run keeps (the last, or early stopping's best) on the test set and
    write every output through ``staging``; ``sets``: the training and test DataSets and the
    loop.Validation or None. Returns the summary record."""
    (train_set, test_set, validation), net, state, scale = sets, start.net, start.state, start.scaling
    theta = loop.final_weights(state, start.settings)
    # The saved model is evaluated in float64, as predict.py reads it: their predictions agree exactly.
    confusion, examples = evaluation.evaluate(sc, test_set, theta, net, examples=run_report.N_EXAMPLES)
    summary = run_report.summary_record(confusion, state.history, net, train_set, test_set, start.options,
                                        load_seconds)
    summary.update(run_report.validation_record(state, start.settings, validation_rows(validation, train_set)))
    if start.settings.class_weights is not None:
        summary["class_weights"] = start.settings.class_weights.tolist()
    summary.update(diverged=str(diverged) if diverged else None, cached_bytes=dict(zip(("memory", "disk"), cached)),
                   spark_version=sc.version, cores=sc.defaultParallelism, scaling=scale.kind,
                   header_lines={"train": train_set.headers["features"], "train_labels": train_set.headers["labels"],
                                 "test": test_set.headers["features"], "test_labels": test_set.headers["labels"]})
    outputs = run_report.output_lines(state.history, confusion, examples, summary,
                                      model_file.model_to_lines(net, theta, scale, trained_inputs(train_set)))
    staging.publish(outputs, files=onnx_file(net, theta, scale, log))
    return summary


def why_not_pixels(not_pixels):
    """The values that kept a training set from being read as pixels, in words: of the two ways
    (scaling.NOT_PIXEL), the one fewer values break, and its first such value."""
    way, (count, first) = min(not_pixels.items(), key=lambda item: item[1][0])
    return f"{first}, {way}" + (f", and {count - 1:,} more such values" if count > 1 else "")


def onnx_file(net, theta, scale, log):
    """{"model.onnx": its bytes}, or {} with one line saying why not (the onnx package is optional)."""
    if np.abs(theta).max() > np.finfo(np.float32).max:  # a diverged run's last finite weights
        log("model.onnx not written: the weights do not fit in float32")
        return {}
    try:
        return {"model.onnx": onnx_export.model_bytes(net, theta, scale)}
    except ImportError:
        log("model.onnx not written: the onnx package is not installed (pip install onnx); the rest is")
        return {}


def main(argv=None):
    args = parse_args(argv)
    return run_with_spark("main_task.py", run, args, {
        DataError: (EXIT_BAD_INPUT, str),
        Diverged: (EXIT_DIVERGED, lambda e: f"{e} (histories and the last finite model are in {args.output_dir})")})


if __name__ == "__main__":
    sys.exit(main())
