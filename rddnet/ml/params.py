"""The params the estimator and its model share: pyspark.ml's own mixins where the meaning is
theirs (featuresCol, labelCol, predictionCol, probabilityCol, rawPredictionCol, maxIter = epochs,
stepSize = the initial learning rate, seed, validationIndicatorCol), and every other training
option of the job's option table as a Param of its own, named as the table names it (the flag in
camelCase), with the job's default. Values are checked as the command line checks them, in fit,
before any Spark job."""

import argparse

from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import (
    HasFeaturesCol,
    HasLabelCol,
    HasMaxIter,
    HasPredictionCol,
    HasProbabilityCol,
    HasRawPredictionCol,
    HasSeed,
    HasStepSize,
    HasValidationIndicatorCol,
)

from rddnet.option_table import BY_FLAG, OPTIONS, with_defaults

# The options whose Param is a pyspark mixin's, and those a DataFrame has no use for (paths,
# catalog tables, output folders, checkpoints, the test set's evaluation).
MIXIN_FLAGS = ("epochs", "lr", "seed", "label-column", "features")
FILE_FLAGS = ("format", "table", "validation", "validation-labels", "init-model", "overwrite", "checkpoint-every",
              "resume", "eval-every")
PARAM_OPTIONS = tuple(option for option in OPTIONS if option.flag not in MIXIN_FLAGS + FILE_FLAGS)
CONVERTERS = {"float": TypeConverters.toFloat, "int": TypeConverters.toInt, "string": TypeConverters.toString,
              "list<int>": TypeConverters.toListInt, "boolean": TypeConverters.toBoolean}


class BadParam(ValueError):
    """A param's value that cannot work: its one line names the param and what it takes."""


def getter(name):
    return lambda self: self.getOrDefault(name)


def setter(name):
    def set_value(self, value):
        return self._set(**{name: value})
    return set_value


class NeuralNetworkParams(HasFeaturesCol, HasLabelCol, HasPredictionCol, HasProbabilityCol, HasRawPredictionCol,
                          HasMaxIter, HasStepSize, HasSeed, HasValidationIndicatorCol):
    """The shared params; PARAM_OPTIONS' Params and their getX/setX are added below the class."""

    featuresCols = Param(Params._dummy(), "featuresCols", "numeric columns to use as the features, in order, "
                         "instead of featuresCol's one column of vectors or arrays", TypeConverters.toListString)

    def __init__(self):
        super().__init__()
        defaults = {option.param: option.default for option in PARAM_OPTIONS if not callable(option.default)}
        self._setDefault(maxIter=BY_FLAG["epochs"].default, stepSize=BY_FLAG["lr"].default,
                         seed=BY_FLAG["seed"].default, featuresCols=[], **defaults)

    def getFeaturesCols(self):
        return self.getOrDefault(self.featuresCols)

    def setFeaturesCols(self, value):
        return self._set(featuresCols=value)

    def option_values(self):
        """{option name: value} of every option, as option_table.with_defaults gives them for the
        command line: this stage's values, checked as the command line checks them. BadParam in
        one line for a value that cannot work."""
        given = {"epochs": self.getMaxIter(), "lr": self.getStepSize(), "seed": self.getSeed()}
        for option in PARAM_OPTIONS:
            value = self.getOrDefault(option.param) if self.isDefined(option.param) else None
            if value is not None:
                given[option.name] = checked_value(option, value)
        for option in (BY_FLAG["epochs"], BY_FLAG["lr"], BY_FLAG["seed"]):
            given[option.name] = checked_value(option, given[option.name], option.param)
        return with_defaults(given)


def checked_value(option, value, name=None):
    """``value`` of an option's Param as the option's own parser reads it from the command line."""
    name = name or option.param
    if option.kind is bool:
        return bool(value)
    if isinstance(option.kind, tuple):
        if value not in option.kind:
            raise BadParam(f"{name} {value!r}: expected one of {', '.join(map(str, option.kind))}")
        return value
    text = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
    try:
        return option.kind(text)
    except (argparse.ArgumentTypeError, ValueError) as e:
        raise BadParam(f"{name} {text}: {e}") from None


for _option in PARAM_OPTIONS:
    _name = _option.param
    setattr(NeuralNetworkParams, _name, Param(Params._dummy(), _name, _option.help, CONVERTERS[_option.param_type]))
    _title = _name[0].upper() + _name[1:]
    setattr(NeuralNetworkParams, f"get{_title}", getter(_name))
    setattr(NeuralNetworkParams, f"set{_title}", setter(_name))
