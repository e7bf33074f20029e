"""What a run reports: the test metrics, the summary record and the text outputs' lines
(histories, metrics, test pairs, confusion matrix, summary, model), written by outputs/output_folder.py.
"""

import json

import nn_math

N_EXAMPLES = 100  # (prediction, label) pairs written to tests/


def metrics_record(confusion):
    """The test metrics of a confusion matrix (k, k), as the summary records them."""
    precision, recall, f1 = nn_math.precision_recall_f1(confusion)
    per_class = [{"class": c, "precision": float(precision[c]), "recall": float(recall[c]),
                  "f1": float(f1[c]), "support": int(confusion[c].sum())} for c in range(len(confusion))]
    return {"test_accuracy": nn_math.accuracy_of(confusion), "macro_f1": float(f1.mean()), "per_class": per_class,
            "confusion_matrix": confusion.tolist()}


def summary_record(confusion, history, net, train_set, test_set, options, load_seconds):
    """The summary/ record as a dict: test metrics, the network, the data, the settings and timings."""
    return {
        **metrics_record(confusion),
        "final_train_accuracy": history["accuracy"][-1] if history["accuracy"] else None,
        "final_cost": history["cost"][-1] if history["cost"] else None,
        "layer_sizes": net.sizes, "activation": net.activation, "loss": net.loss,
        "train_rows": train_set.rows, "test_rows": test_set.rows, "classes": train_set.classes,
        "settings": options,
        "load_seconds": load_seconds,
        "epoch_seconds": history["seconds"],
        "learning_rates": history["lr"],
        "test_accuracy_history": history["test_accuracy"],
    }


def metric_lines(confusion, examples, summary):
    """{output folder name: its lines} for the test metrics, the example pairs and the summary."""
    precision, recall, f1 = nn_math.precision_recall_f1(confusion)
    return {
        "metrics": [repr((float(p), float(r), float(f))) for p, r, f in zip(precision, recall, f1)],
        "tests": [repr(pair) for pair in examples],
        "confusion_matrix": [" ".join(str(n) for n in row) for row in confusion],
        "summary": [json.dumps(summary)],
    }


def validation_record(state, settings, validation_rows):
    """The summary's validation entries: the rows, the validations as (epoch, cost, accuracy),
    the epoch of the lowest cost, and the last epoch run."""
    if not validation_rows:
        return {}
    return {"validation_rows": validation_rows, "validation_history": state.history["validation"],
            "best_epoch": state.best.epoch, "last_epoch": state.epoch,
            "kept_epoch": state.best.epoch if settings.early_stopping else state.epoch}


def output_lines(history, confusion, examples, summary, model_lines):
    """{output folder name: its lines}: everything a training run writes but its checkpoints;
    validation_history/ ("epoch,cost,accuracy": the weights after that many epochs) with
    validation data."""
    validation = {"validation_history": [f"{epoch},{cost!r},{accuracy!r}" for epoch, cost, accuracy in
                                         history["validation"]]} if history["validation"] else {}
    return {
        "cost_history": [repr(c) for c in history["cost"]],
        "accuracy_history": [repr(a) for a in history["accuracy"]],
        "test_accuracy_history": [repr(pair) for pair in history["test_accuracy"]],
        **validation,
        **metric_lines(confusion, examples, summary),
        "model": model_lines,
    }
