"""The pyspark.ml front door: NeuralNetworkClassifier.fit(df) trains on the same engine as
main_task.py (the same blocks, epochs, sums and steps), and NeuralNetworkModel.transform(df)
appends rawPrediction, probability (ML vectors) and prediction (a double), as MLlib's
classifiers do, through one vectorized pandas UDF: nothing is collected on the driver, and the
rows keep their order and every other column.

    from rddnet.ml import NeuralNetworkClassifier
    model = NeuralNetworkClassifier(hidden=[128], optimizer="adam", stepSize=0.003, maxIter=20).fit(train)
    model.transform(test).select("prediction", "probability")
"""

from pyspark.ml import Estimator, Model

from rddnet.errors import DataError
from rddnet.inputs.loading import load_input, trained_inputs
from rddnet.ml.frames import features_expression, training_spec
from rddnet.ml.params import BadParam, NeuralNetworkParams
from rddnet.ml.persistence import ModelReadable, ModelWritable, ParamsReadable, ParamsWritable
from rddnet.ml.scoring import scoring_udf
from rddnet.option_table import watching_validation
from rddnet.run_settings import starting_point, weighing_classes
from rddnet.training import loop


class NeuralNetworkClassifier(Estimator, NeuralNetworkParams, ParamsReadable, ParamsWritable):
    """A fully connected network trained with map/reduce over RDDs; every param is a training
    option of main_task.py (rddnet.ml.params), with its default."""

    def __init__(self, **params):
        super().__init__()
        self._set(**params)

    def setParams(self, **params):
        return self._set(**params)

    def _fit(self, dataset):
        values, validation_col = self.checked_values()
        sc = classic_context(dataset)
        indicator = dataset[validation_col] if validation_col else None
        training = dataset.filter(~indicator) if indicator is not None else dataset
        train_set = load_input(sc, training_spec(self, training), values["block_size"], values["scale"],
                               holdout=(values["seed"], values["validation_fraction"]))
        validation, valid_set = None, None
        if values["validation_fraction"]:
            validation = loop.Validation(train_set, values["validation_fraction"])
        elif indicator is not None:
            valid_set = load_input(sc, training_spec(self, dataset.filter(indicator)), values["block_size"],
                                   train_set.scaling, n_classes=train_set.classes, width=train_set.width)
            validation = loop.Validation(valid_set)
        try:
            start = weighing_classes(sc, starting_point(values, train_set), train_set, log=print)
            state = loop.train(sc, train_set, start.net, start.state, start.settings, log=print,
                               validation=validation)
        finally:
            for data in (train_set, valid_set):
                if data is not None:
                    data.cached.unpersist()
        model = NeuralNetworkModel(start.net, loop.final_weights(state, start.settings), start.scaling,
                                   trained_inputs(train_set), TrainingSummary.of(state, start.settings))
        model._resetUid(self.uid)
        return self._copyValues(model)

    def checked_values(self):
        """(the option values of this stage's params, the validation indicator column or None):
        BadParam in one line, before any Spark job, for a value or a pair that cannot work."""
        values = self.option_values()
        if values["epochs"] == 0:
            raise BadParam("maxIter 0 trains nothing: give it the number of epochs to train")
        validation_col = self.getOrDefault(self.validationIndicatorCol) \
            if self.isDefined(self.validationIndicatorCol) else None
        if validation_col and values["validation_fraction"]:
            raise BadParam("validationIndicatorCol and validationFraction both give validation rows: choose one")
        watching = watching_validation(values)
        if watching and not (validation_col or values["validation_fraction"]):
            option, value = watching
            what = option.param + (f" {value!r}" if option.flag == "lr-schedule" else "")
            raise BadParam(f"{what} watches the validation cost: set validationIndicatorCol or validationFraction")
        return values, validation_col


def classic_context(dataset):
    """The SparkContext behind ``dataset``'s session, with the package shipped to the executors;
    a DataError in one line over Spark Connect, which has no RDDs to train on."""
    from rddnet.shipping import ship_code
    try:
        sc = dataset.sparkSession.sparkContext
    except Exception:  # pyspark.sql.connect's session has none
        raise DataError("NeuralNetworkClassifier.fit trains with RDDs, which Spark Connect does not have: fit in a "
                        "classic SparkSession (the saved model then transforms over Connect)") from None
    ship_code(sc)
    return sc


class TrainingSummary:
    """What fit leaves on the model: the histories per epoch (cost, accuracy on the epoch's sample,
    lr, sample rows, seconds), the validations [(epoch, cost, accuracy)], the epoch of the lowest
    validation cost (bestEpoch), the last epoch run and the one whose weights the model holds."""

    def __init__(self, history, best_epoch, last_epoch, kept_epoch):
        self.history, self.bestEpoch, self.lastEpoch, self.keptEpoch = history, best_epoch, last_epoch, kept_epoch

    @classmethod
    def of(cls, state, settings):
        kept = state.best.epoch if settings.early_stopping and state.best.epoch is not None else state.epoch
        return cls(state.history, state.best.epoch, state.epoch, kept)

    @property
    def objectiveHistory(self):
        return list(self.history["cost"])


class NeuralNetworkModel(Model, NeuralNetworkParams, ModelReadable, ModelWritable):
    """A trained network: its weights, input scaling and the record of its training inputs (its
    feature columns, label, classes), and the training summary when fit made it."""

    def __init__(self, net=None, theta=None, scaling=None, inputs=None, summary=None):
        super().__init__()
        self.net, self.theta, self.scaling, self.inputs, self._summary = net, theta, scaling, inputs, summary

    @property
    def summary(self):
        if self._summary is None:
            raise RuntimeError("no training summary: this model was loaded, not fitted")
        return self._summary

    @property
    def hasSummary(self):
        return self._summary is not None

    @property
    def numClasses(self):
        return self.net.sizes[-1]

    @property
    def numFeatures(self):
        return self.net.sizes[0]

    def _transform(self, dataset):
        from pyspark.ml.functions import array_to_vector
        from pyspark.sql import functions as F

        from rddnet.outputs.model_file import over_connect
        from rddnet.shipping import ship_code, ship_code_over_connect
        session = dataset.sparkSession
        if over_connect(session):
            ship_code_over_connect(session)
        else:
            ship_code(session.sparkContext)
        scored = "__rddnet_scores"
        frame = dataset.withColumn(scored, scoring_udf(self.net, self.theta, self.scaling)(
            features_expression(self, dataset)))
        columns = ((self.getRawPredictionCol(), array_to_vector(F.col(f"{scored}.raw"))),
                   (self.getProbabilityCol(), array_to_vector(F.col(f"{scored}.probability"))),
                   (self.getPredictionCol(), F.col(f"{scored}.prediction")))
        for name, column in columns:
            if name:
                frame = frame.withColumn(name, column)
        return frame.drop(scored)



