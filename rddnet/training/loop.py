"""The training loop: epochs over cached blocks, each one Spark job and then the driver's step.

main_task.py drives it from the command line; anything else that trains (a notebook, a future
pyspark.ml estimator) imports the same loop. An epoch is one of two kinds:

  - data-parallel (the default, as the original): the executors sum the sample's errors and
    gradients at the broadcast weights (epoch_tasks.gradient_sums); the driver divides by the
    rows once, adds any penalty, sets this epoch's learning rate from its cost, and takes one
    optimizer step.
  - model averaging (--local-steps K > 1): the learning rate is set first, from the last two
    costs; every partition takes K optimizer steps from the broadcast weights and moments
    (averaging.averaging_sums), and their row-weighted mean is the new weights and moments.

Every formula is nn_math's; the executors' code is epoch_tasks.py's, averaging.py's and
evaluation.py's.
"""

import time
from typing import NamedTuple

import numpy as np

import nn_math
from rddnet.errors import DataError, Diverged
from rddnet.training import averaging, epoch_tasks, evaluation, sums


class Epoch(NamedTuple):
    """What an epoch ends with: its cost and learning rate, the new weights and optimizer
    moments, and the Sums its Spark job returned."""

    cost: float
    lr: float
    theta: np.ndarray
    moments: dict
    sums: sums.Sums


def epoch_cost(sums, state, net, settings, epoch):
    """The epoch's cost: the sample's mean error, plus any penalty on the weights it started from.

    Raises DataError if the sample is empty, and Diverged if the cost is not finite.
    """
    if sums is None or sums.rows == 0:
        raise DataError(f"epoch {epoch}: the sample is empty; raise --sample-fraction or add rows")
    cost = sums.mean_error(settings.class_weights)  # weighted rows: per unit of weight
    if settings.penalised:
        cost += nn_math.penalty(state.theta, net.sizes, settings.l1, settings.l2)
    if not np.isfinite(cost):
        raise Diverged(epoch, f"the cost is {cost}")
    return cost


def finite(theta, epoch):
    """``theta``, after checking that every weight is finite (Diverged otherwise)."""
    if not np.isfinite(theta).all():
        raise Diverged(epoch, "the weights overflowed")
    return theta


def data_parallel_epoch(sc, data, net, state, settings, epoch):
    """One data-parallel epoch from the TrainingState ``state``: the Epoch it ends with."""
    sums = epoch_tasks.gradient_sums(sc, data, net, state, settings, epoch)
    cost = epoch_cost(sums, state, net, settings, epoch)
    # The rate follows this epoch's cost: the bold driver compares it with the last one.
    lr = settings.schedule.rate(epoch, state.lr, cost, state.previous_cost)
    gradient = sums.mean_vector(settings.class_weights)
    if settings.penalised:
        gradient += nn_math.penalty_gradient(state.theta, net.sizes, settings.l1, settings.l2)
    theta, moments = settings.optimizer.step(state.theta, gradient, lr, state.moments)
    if settings.max_norm:
        theta = nn_math.max_norm(theta, net.sizes, settings.max_norm)
    return Epoch(cost, lr, finite(theta, epoch), moments, sums)


def averaging_epoch(sc, data, net, state, settings, epoch):
    """One model-averaging epoch from the TrainingState ``state``: the Epoch it ends with."""
    # The partitions step inside the epoch, so the rate is set before it, from the last two costs.
    costs = state.history["cost"]
    lr = settings.schedule.rate(epoch, state.lr, state.previous_cost, costs[-2] if len(costs) > 1 else None)
    sums = averaging.averaging_sums(sc, data, net, state, settings, epoch, lr)
    cost = epoch_cost(sums, state, net, settings, epoch)
    theta, moments = settings.optimizer.unpack(sums.mean_vector(), state.moments, settings.local_steps)
    return Epoch(cost, lr, finite(theta, epoch), moments, sums)


class Validation(NamedTuple):
    """Where a run's validation rows are: ``data``, a DataSet, and ``holdout``: the share of its
    rows held out (sampling.holdout_mask; the training set's own, measured in each epoch's job),
    or None (a validation set of its own, all its rows, measured in a job before the epoch's)."""

    data: object
    holdout: float = None

    def measure(self, sc, theta, net, settings):
        """The ValidationSums of the validation rows at ``theta``, in a job of their own."""
        return evaluation.validation_sums(sc, self.data, theta, net, settings.dtype, settings.seed, self.holdout)


def validated(state, epoch, measured, theta, settings):
    """Record the validation of the weights ``theta`` after ``epoch`` epochs (ValidationSums ``measured``):
    the history's (epoch, cost, accuracy) and early stopping's best. Returns the log's words."""
    cost, accuracy = measured.cost(), measured.accuracy()
    state.history["validation"].append((epoch, cost, accuracy))
    state.best = state.best.after(epoch, cost, theta, settings.min_delta)
    lr = state.lr
    state.lr, state.plateau = settings.schedule.on_plateau(lr, state.plateau.after(epoch, cost, None,
                                                                                     settings.min_delta))
    words = f"  validation (after epoch {epoch}) cost {cost:.6f} accuracy {accuracy:.4f}"
    return words + (f"  (no lower cost for {settings.schedule.lr_patience}: lr {lr:.6g} -> {state.lr:.6g})"
                    if state.lr != lr else "")


def patience_spent(state, settings):
    """True when early stopping has seen settings.early_stopping validations without a lower cost."""
    return bool(settings.early_stopping) and state.best.waited >= settings.early_stopping


def train(sc, data, net, state, settings, log=print, test_set=None, checkpoint=None, validation=None):
    """Run epochs state.epoch + 1 .. settings.epochs, updating the TrainingState ``state`` after each.

    With ``test_set``, the test accuracy is measured every settings.eval_every epochs; with
    ``checkpoint``, checkpoint(state) runs every settings.checkpoint_every epochs. With
    ``validation`` (a Validation), every epoch measures the validation cost and accuracy of the
    weights it starts from, and the last weights are measured after the last epoch; with
    settings.early_stopping, the run stops once that many validations in a row have not lowered
    the cost (state.best keeps the weights of the lowest). Raises Diverged, leaving ``state`` at
    the last epoch whose cost and weights were finite.
    """
    run_epoch = averaging_epoch if settings.local_steps > 1 else data_parallel_epoch
    history = state.history
    for epoch in range(state.epoch + 1, settings.epochs + 1):
        if patience_spent(state, settings):  # also when resuming a run that had stopped
            log(f"early stopping: {settings.early_stopping} validations without a lower cost; the weights after "
                f"epoch {state.best.epoch} (validation cost {state.best.cost:.6f}) are kept")
            break
        started = time.perf_counter()
        before = state.theta
        measured = validation.measure(sc, before, net, settings) if validation and validation.holdout is None else None
        # The epoch's map/reduce (one Spark job over the cached blocks), then the step; it stops
        # the run on an empty sample, or a cost or weights no longer finite.
        result = run_epoch(sc, data, net, state, settings, epoch)
        line = stepped(state, result, epoch, time.perf_counter() - started, settings)
        if validation is not None:
            line += validated(state, epoch - 1, measured or result.sums.validation, before, settings)
        # Evaluation and checkpoints, at their intervals.
        if test_set is not None and settings.eval_every and epoch % settings.eval_every == 0:
            tested = evaluation.evaluate(sc, test_set, state.theta, net, dtype=settings.dtype)
            history["test_accuracy"].append((epoch, nn_math.accuracy_of(tested.confusion)))
            line += f"  test accuracy {history['test_accuracy'][-1][1]:.4f}"
        log(line)
        if checkpoint is not None and settings.checkpoint_every and epoch % settings.checkpoint_every == 0:
            checkpoint(state)
    if validation is not None and (not history["validation"] or history["validation"][-1][0] < state.epoch):
        # The last weights too, early stopping's included: every weights of the run are measured.
        log("validation" + validated(state, state.epoch, validation.measure(sc, state.theta, net, settings),
                                     state.theta, settings)[len("  validation"):])
    return state


def stepped(state, result, epoch, seconds, settings):
    """Move the TrainingState ``state`` on to the Epoch ``result`` of epoch ``epoch``, add it to the
    history; returns the epoch's log line."""
    state.epoch, state.theta, state.moments = epoch, result.theta, result.moments
    state.lr, state.previous_cost = result.lr, result.cost
    sums, history = result.sums, state.history
    accuracy = sums.correct / sums.rows
    for key, value in (("cost", result.cost), ("accuracy", accuracy), ("lr", result.lr), ("sample", sums.rows),
                       ("seconds", seconds)):
        history[key].append(value)
    left = (settings.epochs - epoch) * sum(history["seconds"]) / len(history["seconds"])
    return (f"epoch {epoch:3d}/{settings.epochs}  cost {result.cost:.6f}  train accuracy {accuracy:.4f}  "
            f"lr {result.lr:.6g}  sample {sums.rows}  {seconds:.2f} s  {sums.rows / seconds:,.0f} rows/s  "
            f"left {clock(left)}")


def final_weights(state, settings):
    """The weights a run keeps: with early stopping, those of the lowest validation cost."""
    return state.best.theta if settings.early_stopping and state.best.epoch is not None else state.theta


def clock(seconds):
    """12.3 s -> '0:12', 3725 s -> '1:02:05'."""
    minutes, seconds = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
