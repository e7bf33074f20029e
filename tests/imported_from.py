"""spark-submit tests/imported_from.py: where the executors import the job's code from, as JSON:
{"rddnet": the file of rddnet.training.epoch_tasks, "nn_math": nn_math's}, one task's view."""

import json


def module_files(_):
    import nn_math
    from rddnet.training import epoch_tasks
    return {"rddnet": epoch_tasks.__file__, "nn_math": nn_math.__file__}


if __name__ == "__main__":
    from rddnet.spark_setup import start_spark
    sc = start_spark()
    print(json.dumps(sc.parallelize([0], 1).map(module_files).first()))
    sc.stop()
