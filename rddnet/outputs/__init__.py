"""Outputs: the output folder, the run report, the model file and its ONNX graph, checkpoints,
predictions as lines or a table, and the model as a Spark SQL function."""
