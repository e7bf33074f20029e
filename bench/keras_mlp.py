"""The peer a user would pick on one machine: Keras 3 on the JAX backend, CPU, for bench/benchmark.py.

    KERAS_BACKEND=jax python bench/keras_mlp.py TRAIN_IMAGES TRAIN_LABELS TEST_IMAGES TEST_LABELS OUT [EPOCHS]

Runs in the benchmark's own virtual environment (bench/requirements-keras.txt), not the job's.
The recipe: 784-128-10, relu then softmax, Adam 1e-3, batch 128, inputs / 255 as float32; the CSV
files loaded with np.loadtxt (bytes for the pixels, the fastest way NumPy reads them). After every
epoch the test accuracy is measured (not counted as training); the predicted classes go to OUT,
as the job writes its outputs. Prints one JSON line: load seconds, per-epoch training seconds,
test accuracy per epoch.
"""

import json
import os
import sys
import time


def main(train_images, train_labels, test_images, test_labels, out, epochs="5"):
    import numpy as np
    started = time.perf_counter()
    X = np.loadtxt(train_images, delimiter=",", dtype=np.uint8)
    y = np.loadtxt(train_labels, dtype=np.int64)
    X_test = np.loadtxt(test_images, delimiter=",", dtype=np.uint8)
    y_test = np.loadtxt(test_labels, dtype=np.int64)
    load_seconds = time.perf_counter() - started
    X, X_test = X.astype(np.float32) / 255.0, X_test.astype(np.float32) / 255.0

    import keras
    keras.utils.set_random_seed(42)
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(128, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")

    class Timing(keras.callbacks.Callback):
        """Training seconds per epoch, and the test accuracy after it (timed apart)."""

        def __init__(self):
            super().__init__()
            self.seconds, self.accuracy = [], []

        def on_epoch_begin(self, epoch, logs=None):
            self.began = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.began)
            predicted = self.model.predict(X_test, batch_size=1024, verbose=0).argmax(axis=1)
            self.accuracy.append(float(np.mean(predicted == y_test)))

    timing = Timing()
    model.fit(X, y, batch_size=128, epochs=int(epochs), shuffle=True, verbose=0, callbacks=[timing])
    os.makedirs(out, exist_ok=True)
    np.savetxt(os.path.join(out, "predicted.csv"), model.predict(X_test, batch_size=1024, verbose=0).argmax(axis=1),
               fmt="%d")
    print(json.dumps({"load_seconds": load_seconds, "epoch_seconds": timing.seconds,
                      "test_accuracy": timing.accuracy, "keras": keras.__version__,
                      "backend": keras.backend.backend()}))


if __name__ == "__main__":
    main(*sys.argv[1:])
