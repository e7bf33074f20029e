"""The update rules of training, NumPy only: optimisers (a step from a gradient), learning-rate
schedules (a rate from the epoch and the costs), and early stopping's record of the best
weights. The gradients themselves are nn_math.py's.
"""

import math
from collections import namedtuple

import numpy as np

# ---------------------------------------------------------------- optimisers

OPTIMIZERS = ("sgd", "momentum", "adam")


def optimizer_state(name, theta):
    """Fresh state for ``name``: {} (sgd), {"v"} (momentum), {"t", "m", "v"} (adam)."""
    if name == "sgd":
        return {}
    if name == "momentum":
        return {"v": np.zeros_like(theta)}
    if name == "adam":
        return {"t": 0, "m": np.zeros_like(theta), "v": np.zeros_like(theta)}
    raise ValueError(f"unknown optimizer {name!r}")


def optimizer_step(name, theta, grad, lr, state, momentum, beta1, beta2, work, eps=1e-8):
    """One update of ``theta`` by gradient ``grad``, in place: ``theta`` and the state's arrays
    are updated, ``grad`` is overwritten and ``work`` (an array of theta's shape) is scratch;
    returns the new state (Adam's step count moved on).

    sgd:      theta - lr g
    momentum: v = momentum v - lr g;  theta + v
    adam:     m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  t = t + 1;
              theta - lr m^ / (sqrt(v^) + eps) with m^ = m / (1 - b1^t), v^ = v / (1 - b2^t)

    The one implementation of a step, used by the driver, the executors and the tests' replays
    alike (Optimizer.step copies first), so that they agree to the last bit on any CPU. In place
    because a step that allocates its results makes a dozen arrays of theta's size (Adam: 10 MB
    each for a million float64 weights), which cost more than a local step's forward and backward
    passes.
    """
    if name == "sgd":
        grad *= lr
        theta -= grad
        return state
    if name == "momentum":
        v = state["v"]
        v *= momentum
        grad *= lr
        v -= grad
        theta += v
        return state
    if name == "adam":
        return adam_step(theta, grad, lr, state, beta1, beta2, work, eps)
    raise ValueError(f"unknown optimizer {name!r}")


def adam_step(theta, grad, lr, state, beta1, beta2, work, eps):
    """optimizer_step's Adam, in place: returns the state with its step count t moved on."""
    # The bias corrections in Python floats: with a NumPy integer t, beta ** t is NumPy's
    # power, whose SIMD routes can differ from the C library's pow in the last bit.
    t, m, v = int(state["t"]) + 1, state["m"], state["v"]
    correction1, correction2 = 1.0 - float(beta1) ** t, 1.0 - float(beta2) ** t
    np.multiply(grad, 1 - beta1, out=work)
    m *= beta1
    m += work
    np.multiply(grad, 1 - beta2, out=work)
    work *= grad
    v *= beta2
    v += work
    np.divide(m, correction1, out=grad)
    grad *= lr
    np.divide(v, correction2, out=work)
    np.sqrt(work, out=work)
    work += eps
    grad /= work
    theta -= grad
    return {"t": t, "m": m, "v": v}


class Optimizer(namedtuple("Optimizer", "name momentum beta1 beta2", defaults=(0.9, 0.9, 0.999))):
    """An optimizer's settings: its name (OPTIMIZERS) and the hyperparameters it reads.

    Its moments are what it carries from step to step: {} (sgd), {"v"} (momentum),
    {"t", "m", "v"} (adam). Its defaults are the options' (option_table.py reads them).
    """

    __slots__ = ()

    def initial_moments(self, theta):
        return optimizer_state(self.name, theta)

    def step(self, theta, grad, lr, moments):
        """(new theta, new moments) after one update by gradient ``grad``; no input changes
        (copies, then step_in_place: the same operations, so the same bits)."""
        theta, moments = self.copied(theta, moments)
        moments = self.step_in_place(theta, np.array(grad, dtype=float, copy=True), lr, moments,
                                     np.empty_like(theta))
        return theta, moments

    def step_in_place(self, theta, grad, lr, moments, work):
        """The new moments after one update of ``theta`` and ``moments``' arrays in place
        (optimizer_step: ``grad`` overwritten, ``work`` scratch of theta's shape)."""
        return optimizer_step(self.name, theta, grad, lr, moments, self.momentum, self.beta1, self.beta2, work)

    @staticmethod
    def copied(theta, moments):
        """Copies of theta and the moments' arrays, for steps in place (a broadcast's value is shared
        by every task of a Python worker and must not change)."""
        return theta.copy(), {key: int(value) if key == "t" else np.array(value, copy=True)
                              for key, value in moments.items()}

    @staticmethod
    def pack(theta, moments):
        """theta, then each moment array (by name), as one flat vector: what model averaging averages."""
        return np.concatenate([theta] + [moments[key] for key in sorted(moments) if key != "t"])

    @staticmethod
    def unpack(vector, moments, steps):
        """(theta, moments) from a (averaged) pack of ``moments``' layout, after ``steps`` steps each."""
        size = len(vector) // (1 + sum(key != "t" for key in moments))
        unpacked = dict(moments)
        for i, key in enumerate(key for key in sorted(moments) if key != "t"):
            unpacked[key] = vector[size * (i + 1):size * (i + 2)]
        if "t" in unpacked:  # Adam's bias correction counts every step taken
            unpacked["t"] += steps
        return vector[:size], unpacked


# ------------------------------------------------------------- learning rate

SCHEDULES = ("bold-driver", "constant", "step", "exponential", "plateau", "cosine")


def bold_driver(lr, cost, previous_cost, up, down):
    """Next learning rate: ``lr * up`` if the cost fell, ``lr * down`` if not.

    The first epoch has no previous cost (None) and keeps ``lr``.
    """
    if previous_cost is None:
        return lr
    return lr * up if cost < previous_cost else lr * down


class Schedule(namedtuple("Schedule", "name lr lr_decay lr_step bold_up bold_down lr_patience epochs",
                          defaults=(0.5, 10, 1.05, 0.5, 2, 1))):
    """A learning-rate schedule's settings: its name (SCHEDULES), the initial rate and the
    factors it reads. Its defaults are the options' (option_table.py reads them)."""

    __slots__ = ()

    def rate(self, epoch, lr, cost, previous_cost):
        """The learning rate of epoch ``epoch`` (1-based), from the last rate ``lr`` and the last
        two costs; lr0 is the initial rate (self.lr).

        bold-driver: from ``lr`` and whether the cost fell (``bold_driver``);
        constant:    lr0;   step: lr0 * decay^floor((epoch - 1) / step);   exponential: lr0 * decay^(epoch - 1);
        plateau:     ``lr``, which the training loop multiplies by decay when the validation cost
                     has not fallen for a while (on_plateau);
        cosine:      lr0 (1 + cos(pi (epoch - 1) / epochs)) / 2, from lr0 down to near 0 at the last
                     of ``epochs`` epochs (Loshchilov and Hutter's annealing, without restarts).
        """
        lr0, decay = self.lr, self.lr_decay
        if self.name == "cosine":
            return lr0 * 0.5 * (1.0 + math.cos(math.pi * (epoch - 1) / max(self.epochs, 1)))
        if self.name == "bold-driver":
            return bold_driver(lr, cost, previous_cost, self.bold_up, self.bold_down)
        if self.name == "plateau":
            return lr
        if self.name == "constant":
            return lr0
        if self.name == "step":
            return lr0 * decay ** ((epoch - 1) // self.lr_step)
        if self.name == "exponential":
            return lr0 * decay ** (epoch - 1)
        raise ValueError(f"unknown schedule {self.name!r}")

    def on_plateau(self, lr, plateau):
        """(the rate, the plateau's Best) after a validation: for the plateau schedule, lr x
        lr_decay once ``plateau`` has waited lr_patience validations without a lower cost, and the
        wait starts again (Keras's ReduceLROnPlateau); otherwise as they are."""
        if self.name != "plateau" or plateau.waited < self.lr_patience:
            return lr, plateau
        return lr * self.lr_decay, plateau._replace(waited=0)


# ------------------------------------------------------------ early stopping

class Best(namedtuple("Best", "epoch cost theta waited")):
    """Early stopping's record: the weights with the lowest validation cost so far (after
    ``epoch`` epochs), that cost, and how many measurements since have not beaten it."""

    __slots__ = ()

    def after(self, epoch, cost, theta, min_delta):
        """The record after measuring ``cost`` on the weights ``theta`` of epoch ``epoch``: an
        improvement is a cost below the best by more than ``min_delta`` (absolute), as Keras's
        EarlyStopping counts it."""
        if self.epoch is None or cost < self.cost - min_delta:
            return Best(epoch, cost, theta, 0)
        return self._replace(waited=self.waited + 1)


NO_BEST = Best(None, float("inf"), None, 0)
