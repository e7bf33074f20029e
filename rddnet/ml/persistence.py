"""Saving and loading through pyspark.ml's own writers, so that a Pipeline, a PipelineModel or a
CrossValidatorModel holding the stage saves and loads: the params as pyspark.ml's metadata/, and
for a model the job's own model file beside them in model/ (and model.onnx when the onnx package
is installed), so that predict.py and onnxruntime read a saved model's folder as they read a
main_task.py run's. NeuralNetworkModel.load also reads a run's model/ folder, or the run's folder."""

from pyspark.ml.util import DefaultParamsReadable as ParamsReadable
from pyspark.ml.util import DefaultParamsReader, DefaultParamsWriter, MLReadable, MLReader, MLWritable, MLWriter
from pyspark.ml.util import DefaultParamsWritable as ParamsWritable

from rddnet.hadoop_fs import input_exists

__all__ = ["ParamsReadable", "ParamsWritable", "ModelReadable", "ModelWritable"]


class ModelWriter(MLWriter):
    def __init__(self, instance):
        super().__init__()
        self.instance = instance

    def saveImpl(self, path):
        from rddnet.outputs import model_file, onnx_export, output_folder
        model, sc = self.instance, self.sc
        DefaultParamsWriter.saveMetadata(model, path, sc)
        lines = model_file.model_to_lines(model.net, model.theta, model.scaling, model.inputs)
        try:
            files = {"model.onnx": onnx_export.model_bytes(model.net, model.theta, model.scaling)}
        except ImportError:  # optional: the model file is the model
            files = {}
        output_folder.write_outputs(sc, path, lines={"model": lines}, files=files)


class ModelReader(MLReader):
    def __init__(self, cls):
        super().__init__()
        self.cls = cls

    def load(self, path):
        """The model saved in ``path`` (or a main_task.py run's model/ folder, or the run's folder);
        over Spark Connect too, through the session's reader."""
        from pyspark.sql import SparkSession

        from rddnet.outputs import model_file
        spark = SparkSession.active()
        if model_file.over_connect(spark):
            read, metadata = model_file.read_model_through(spark, path), self.metadata(spark, path)
        else:
            sc = self.sc
            read = model_file.read_model(sc, path, log=lambda line: None)
            metadata = self.metadata(sc, path) if input_exists(sc, f"{path.rstrip('/')}/metadata") else None
        model = self.cls(read.net, read.theta, read.scaling, read.inputs)
        if metadata is not None:
            DefaultParamsReader.getAndSetParams(model, metadata)
            model._resetUid(metadata["uid"])
        else:  # a main_task.py run's model: its columns as the model file recorded them
            columns_from_record(model, read.inputs)
        return model

    def metadata(self, session, path):
        """pyspark.ml's metadata of a saved model, or None (a main_task.py run's model has none)."""
        try:
            return DefaultParamsReader.loadMetadata(path, session, f"{self.cls.__module__}.{self.cls.__name__}")
        except Exception as e:  # over Connect, no metadata/ is Spark's "path does not exist"
            if "PATH_NOT_FOUND" in str(e) or "does not exist" in str(e):
                return None
            raise


def columns_from_record(model, inputs):
    """Set featuresCol (one vector or array column) or featuresCols (numeric columns) and labelCol
    from a model file's record of what it was trained on."""
    features = (inputs or {}).get("features") or {}
    names = features.get("names") or []
    if features.get("kind") == "columns":
        model._set(featuresCols=names)
    elif names:
        model._set(featuresCol=names[0])
    if (inputs or {}).get("label"):
        model._set(labelCol=inputs["label"])


class ModelWritable(MLWritable):
    def write(self):
        return ModelWriter(self)

    def save(self, path):
        self.write().save(path)


class ModelReadable(MLReadable):
    @classmethod
    def read(cls):
        return ModelReader(cls)

    @classmethod
    def load(cls, path):
        return cls.read().load(path)
