"""Run by test_reliability.py under spark-submit: the same training twice, the second time
with one task that fails on its first attempt. Prints both histories as JSON.

    spark-submit --master 'local[2,2]' tests/fault_driver.py MARKER_FILE TRAIN_IMAGES TRAIN_LABELS
"""

import json
import os
import runpy
import sys

import numpy as np
from pyspark import TaskContext

from rddnet.inputs.csv_input import load_data_set
from rddnet.run_settings import starting_point
from rddnet.spark_setup import start_spark
from rddnet.training import epoch_tasks, loop
from rddnet.training.state import TrainingState

# The script's functions (its command line), without running it.
parse_args = runpy.run_path(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                         "main_task.py"))["parse_args"]

marker, images, labels = sys.argv[1:4]
sample_map = epoch_tasks.sample_map


def sample_map_failing_once(block, scale, k, seed, epoch, fraction, dtype, **more):
    """Fail the task that holds row 0 in epoch 2, on its first attempt only."""
    context = TaskContext.get()
    if epoch == 2 and block.start == 0 and context.attemptNumber() == 0:
        with open(marker, "a") as f:
            f.write(f"failed: stage {context.stageId()} partition {context.partitionId()}\n")
        raise RuntimeError("injected failure")
    return sample_map(block, scale, k, seed, epoch, fraction, dtype, **more)


sc = start_spark()
args = parse_args([images, labels, images, labels, "unused", "--epochs", "4", "--block-size", "128"])
data = load_data_set(sc, images, labels, args.block_size, args.scale)
start = starting_point(args.values, data)
net, theta, settings = start.net, start.state.theta, start.settings  # both runs start from these
clean = loop.train(sc, data, net, TrainingState.start(theta, settings), settings, log=lambda line: None)
epoch_tasks.sample_map = sample_map_failing_once  # epoch_sums looks the map step up at call time
faulty = loop.train(sc, data, net, TrainingState.start(theta, settings), settings, log=lambda line: None)
print(json.dumps({"clean": clean.history["cost"], "faulty": faulty.history["cost"],
                  "same_model": bool(np.array_equal(clean.theta, faulty.theta))}))
sc.stop()
