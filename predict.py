"""Score new rows with a trained model: one output line per input row, in input order.

    spark-submit predict.py MODEL_DIR INPUT OUTPUT_DIR [--labels FILE | --label-column first|last|N|NAME]
                         [--features COLUMNS] [--keep COLUMNS] [--output-format csv|parquet]

    spark-submit --master 'local[2]' predict.py output/run/model data/mnist_images_test.csv output/predict \\
        --labels data/mnist_labels_test.csv

MODEL_DIR is the model/ folder of a main_task.py run. INPUT is read and checked as training
reads its inputs (inputs/loading.py: CSV files or a table) and scaled as the
model's training set was. OUTPUT_DIR gets predictions/. For CSV files: "line,class,score
0,...,score k-1" per row, where line is the row's line number in INPUT and the scores are the
network's outputs (softmax probabilities for cross-entropy, sigmoid outputs for sse). For a
table: a Parquet table of the --keep columns, prediction and probability (prediction_table.py).
--output-format csv|parquet chooses the other. Rows stream from the files to the output folder
through the executors, in input order; nothing is collected on the driver. With labels, also
metrics/, confusion_matrix/, tests/ and summary/, as training writes them.
"""

import sys

from rddnet import option_table
from rddnet.errors import EXIT_BAD_INPUT, DataError
from rddnet.inputs.loading import Reading, input_spec_for_model, load_input, reading_in_words
from rddnet.options import OneLineParser, label_column, names
from rddnet.outputs import model_file, output_folder, prediction_lines, prediction_table, run_report
from rddnet.script_run import run_with_spark
from rddnet.training import evaluation


def parse_args(argv):
    parser = OneLineParser(prog="predict.py", description="Score the rows of CSV files or a table with a model.")
    parser.add_argument("model_dir", metavar="MODEL_DIR", help="the model/ folder of a training run")
    parser.add_argument("input", metavar="INPUT", help="CSV files of features (any Hadoop path, plain or .gz), or a "
                        "table's Parquet, ORC or JSON lines files (or, with --table, a table of the catalog)")
    parser.add_argument("output_dir", metavar="OUTPUT_DIR", help="folder to create for the outputs")
    labels = parser.add_mutually_exclusive_group()
    labels.add_argument("--labels", metavar="FILE", help="the rows' labels: also write metrics as training does")
    labels.add_argument("--label-column", type=label_column, metavar="first|last|N|NAME",
                        help="the label is this column of INPUT (first, last, its number from 1, or a table's or "
                        "CSV header's column name): also write metrics")
    parser.add_argument("--keep", type=names, default=[], metavar="COLUMNS",
                        help="a table's columns to copy into the predictions, before prediction and probability")
    parser.add_argument("--output-format", choices=("csv", "parquet"),
                        help="predictions/ as CSV lines or a Parquet table (default: parquet for a table, csv for "
                        "CSV files)")
    option_table.add_to(parser, ("features", "format", "table", "block-size", "overwrite"), defaults=True)
    return parser.parse_args(argv)


def run(sc, args, log=print):
    """Read the model and INPUT, write the predictions (and metrics, with labels); returns the summary."""
    inputs = {"MODEL_DIR": args.model_dir, "INPUT": None if args.table else args.input, "--labels": args.labels}
    with output_folder.open_staging(sc, args.output_dir, log, inputs, overwrite=args.overwrite,
                                    outputs=output_folder.PREDICT_OUTPUTS) as staging:
        return predict_and_write(sc, args, staging, log)


def predict_and_write(sc, args, staging, log):
    """run()'s work, into the Staging folder ``staging``."""
    output_dir = staging.output_dir
    model = model_file.read_model(sc, args.model_dir, log)
    net, theta, scale = model.net, model.theta, model.scaling
    spec = input_for_model(sc, args, model, log)
    output_format = args.output_format or ("csv" if spec.format is None else "parquet")
    kept = prediction_table.kept_columns(sc, spec, args.keep, output_format, args.input)
    data = load_input(sc, spec, args.block_size, scale, n_classes=net.sizes[-1], width=net.sizes[0])
    log(f"scoring {data.rows} rows of {data.width} values with the {'-'.join(map(str, net.sizes))} network "
        f"({data.scaling.kind} inputs){'; header line skipped' if data.headers['features'] else ''}")
    for line in reading_in_words(data):
        log(f"input table: {line}")
    summary = {"rows": data.rows, "model": args.model_dir, "input": args.input, "header_line": data.headers["features"]}
    outputs = {}
    if spec.label_path or spec.label_column:
        confusion, examples = evaluation.evaluate(sc, data, theta, net, examples=run_report.N_EXAMPLES)
        summary.update(run_report.metrics_record(confusion))
        outputs = run_report.metric_lines(confusion, examples, summary)
        log(f"accuracy {summary['test_accuracy']:.4f}, macro F1 {summary['macro_f1']:.4f}")
    if output_format == "csv":
        staging.publish(outputs, rdds={"predictions": prediction_lines.prediction_lines(sc, data, theta, net)})
    else:
        predictions = prediction_table.prediction_table(sc, data, spec, kept, (net, theta, data.scaling))
        staging.publish(outputs, tables={"predictions": predictions})
    log(f"predictions for {data.rows} rows in {output_dir}/predictions ({output_format})")
    return summary


def input_for_model(sc, args, model, log):
    """INPUT's InputSpec, read as the model's training set was (model.inputs): a table's feature
    columns by name, and its labels from the training set's label column when INPUT has one and
    neither --labels nor --label-column says otherwise."""
    reading = Reading(args.label_column, args.features, args.format, args.table)
    spec = input_spec_for_model(sc, args.input, args.labels, reading, model.inputs, args.model_dir)
    label = (model.inputs or {}).get("label")
    if spec.format is None or label is None or args.labels or args.label_column or label not in spec.layout.columns:
        return spec
    log(f"labels from the column {label!r}, as in training: the metrics are written too")
    return input_spec_for_model(sc, args.input, None, reading._replace(label_column=label), model.inputs,
                                args.model_dir)


def main(argv=None):
    return run_with_spark("predict.py", run, parse_args(argv), {DataError: (EXIT_BAD_INPUT, str)})


if __name__ == "__main__":
    sys.exit(main())
