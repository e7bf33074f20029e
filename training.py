"""The training loop: epochs over cached blocks, each one Spark job and then the driver's step.

main_task.py drives it from the command line; anything else that trains (a notebook, a future
pyspark.ml estimator) imports the same loop. An epoch is one of two kinds:

  - data-parallel (the default, as the original): the executors sum the sample's errors and
    gradients at the broadcast weights (executor_tasks.gradient_sums); the driver divides by the
    rows once, adds any penalty, sets this epoch's learning rate from its cost, and takes one
    optimizer step.
  - model averaging (--local-steps K > 1): the learning rate is set first, from the last two
    costs; every partition takes K optimizer steps from the broadcast weights and moments
    (executor_tasks.averaging_sums), and their row-weighted mean is the new weights and moments.

Every formula is nn_math's; the executors' code is executor_tasks'.
"""

import time
from typing import NamedTuple

import numpy as np

import executor_tasks
import nn_math
from errors import DataError, Diverged


class Epoch(NamedTuple):
    """What an epoch ends with: its cost and learning rate, the new weights and optimizer
    moments, and the Sums its Spark job returned."""

    cost: float
    lr: float
    theta: np.ndarray
    moments: dict
    sums: executor_tasks.Sums


def epoch_cost(sums, state, net, settings, epoch):
    """The epoch's cost: the sample's mean error, plus any penalty on the weights it started from.

    Raises DataError if the sample is empty, and Diverged if the cost is not finite.
    """
    if sums is None or sums.rows == 0:
        raise DataError(f"epoch {epoch}: the sample is empty; raise --sample-fraction or add rows")
    cost = sums.mean_error()
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
    sums = executor_tasks.gradient_sums(sc, data, net, state, settings, epoch)
    cost = epoch_cost(sums, state, net, settings, epoch)
    # The rate follows this epoch's cost: the bold driver compares it with the last one.
    lr = settings.schedule.rate(epoch, state.lr, cost, state.previous_cost)
    gradient = sums.mean_vector()
    if settings.penalised:
        gradient += nn_math.penalty_gradient(state.theta, net.sizes, settings.l1, settings.l2)
    theta, moments = settings.optimizer.step(state.theta, gradient, lr, state.moments)
    return Epoch(cost, lr, finite(theta, epoch), moments, sums)


def averaging_epoch(sc, data, net, state, settings, epoch):
    """One model-averaging epoch from the TrainingState ``state``: the Epoch it ends with."""
    # The partitions step inside the epoch, so the rate is set before it, from the last two costs.
    costs = state.history["cost"]
    lr = settings.schedule.rate(epoch, state.lr, state.previous_cost, costs[-2] if len(costs) > 1 else None)
    sums = executor_tasks.averaging_sums(sc, data, net, state, settings, epoch, lr)
    cost = epoch_cost(sums, state, net, settings, epoch)
    theta, moments = settings.optimizer.unpack(sums.mean_vector(), state.moments, settings.local_steps)
    return Epoch(cost, lr, finite(theta, epoch), moments, sums)


def train(sc, data, net, state, settings, log=print, test_set=None, checkpoint=None):
    """Run epochs state.epoch + 1 .. settings.epochs, updating the TrainingState ``state`` after each.

    With ``test_set``, the test accuracy is measured every settings.eval_every epochs; with
    ``checkpoint``, checkpoint(state) runs every settings.checkpoint_every epochs. Raises
    Diverged, leaving ``state`` at the last epoch whose cost and weights were finite.
    """
    run_epoch = averaging_epoch if settings.local_steps > 1 else data_parallel_epoch
    history = state.history
    for epoch in range(state.epoch + 1, settings.epochs + 1):
        started = time.perf_counter()
        # The epoch's map/reduce (one Spark job over the cached blocks), then the step; it stops
        # the run on an empty sample, or a cost or weights no longer finite.
        result = run_epoch(sc, data, net, state, settings, epoch)
        seconds = time.perf_counter() - started
        state.epoch, state.theta, state.moments = epoch, result.theta, result.moments
        state.lr, state.previous_cost = result.lr, result.cost
        # Logging: the history, and one line per epoch.
        sums = result.sums
        accuracy = sums.correct / sums.rows
        for key, value in (("cost", result.cost), ("accuracy", accuracy), ("lr", result.lr), ("sample", sums.rows),
                           ("seconds", seconds)):
            history[key].append(value)
        left = (settings.epochs - epoch) * sum(history["seconds"]) / len(history["seconds"])
        line = (f"epoch {epoch:3d}/{settings.epochs}  cost {result.cost:.6f}  train accuracy {accuracy:.4f}  "
                f"lr {result.lr:.6g}  sample {sums.rows}  {seconds:.2f} s  {sums.rows / seconds:,.0f} rows/s  "
                f"left {clock(left)}")
        # Evaluation and checkpoints, at their intervals.
        if test_set is not None and settings.eval_every and epoch % settings.eval_every == 0:
            evaluation = executor_tasks.evaluate(sc, test_set, state.theta, net, dtype=settings.dtype)
            history["test_accuracy"].append((epoch, nn_math.accuracy_of(evaluation.confusion)))
            line += f"  test accuracy {history['test_accuracy'][-1][1]:.4f}"
        log(line)
        if checkpoint is not None and settings.checkpoint_every and epoch % settings.checkpoint_every == 0:
            checkpoint(state)
    return state


def clock(seconds):
    """12.3 s -> '0:12', 3725 s -> '1:02:05'."""
    minutes, seconds = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
