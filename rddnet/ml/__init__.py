"""A pyspark.ml Estimator and Model on the job's engine: from rddnet.ml import
NeuralNetworkClassifier, NeuralNetworkModel."""

from rddnet.ml.estimator import NeuralNetworkClassifier, NeuralNetworkModel

__all__ = ["NeuralNetworkClassifier", "NeuralNetworkModel"]
