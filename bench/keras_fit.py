#!/usr/bin/env python3
"""Keras 3 `fit` baseline for bench/train-speed.ts, on tensorflow-cpu 2.21 (the same TensorFlow
mlpipe's native backend runs): the seed's LeNet CNN (SGD lr 0.001 momentum 0.9, cross-entropy
on logits, 32x32x3 channels-last) or the bench's 2-layer LSTM classifier (Adam), on synthetic
data of the sizes mlpipe's rows use.

usage: python3 bench/keras_fit.py --model lenet --batch-sizes 8,32,128 --samples 4096 --epochs 2
       python3 bench/keras_fit.py --model lstm --batch-sizes 32 --samples 2048 --epochs 2
Prints one JSON line: {"tensorflow", "keras", "threads": {"intra", "inter"}, "results": [{"batchSize",
"samplesPerSecond", "samplesPerCpuSecond"}]}. One warm-up epoch (tracing the train function) is
not timed. Threads: TensorFlow's defaults (intra- and inter-op pools sized to the cores), as
mlpipe leaves them; XLA off (Keras's own "auto" choice on a CPU-only host).
"""
import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")  # as mlpipe sets it (src/ml/runtime/native-env.ts)

try:
    import numpy as np
    import tensorflow as tf
    import keras
except ImportError:
    print(json.dumps({"error": "tensorflow-cpu is not installed; install it with: python3 -m pip install tensorflow-cpu==2.21.0"}))
    sys.exit(3)


def lenet() -> keras.Model:
    return keras.Sequential([
        keras.Input((32, 32, 3)),
        keras.layers.Conv2D(6, 5, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(16, 5, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(120, activation="relu"),
        keras.layers.Dense(84, activation="relu"),
        keras.layers.Dense(10),
    ])


def lstm(steps: int, features: int, hidden: int, classes: int) -> keras.Model:
    return keras.Sequential([
        keras.Input((steps, features)),
        keras.layers.LSTM(hidden, return_sequences=True),
        keras.layers.LSTM(hidden),
        keras.layers.Dense(classes),
    ])


def run(a, batch_size: int) -> dict:
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    if a.model == "lenet":
        x = rng.random((a.samples, 32, 32, 3), dtype=np.float32)
        y = rng.integers(0, 10, a.samples).astype(np.int32)
        model = lenet()
        optimizer = keras.optimizers.SGD(learning_rate=0.001, momentum=0.9)
    else:
        x = rng.random((a.samples, a.steps, a.features), dtype=np.float32)
        y = rng.integers(0, a.classes, a.samples).astype(np.int32)
        model = lstm(a.steps, a.features, a.hidden, a.classes)
        optimizer = keras.optimizers.Adam(learning_rate=0.001)
    model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=False)
    model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=True, verbose=0)  # warm-up: traces the step
    start = time.perf_counter()
    cpu_start = time.process_time()
    model.fit(x, y, batch_size=batch_size, epochs=a.epochs, shuffle=True, verbose=0)
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    timed = a.samples * a.epochs
    return {"batchSize": batch_size, "samplesPerSecond": timed / wall, "samplesPerCpuSecond": timed / cpu}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["lenet", "lstm"], default="lenet")
    ap.add_argument("--batch-sizes", default="32,128")
    ap.add_argument("--samples", type=int, default=4096)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--features", type=int, default=8)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--classes", type=int, default=10)
    a = ap.parse_args()
    results = [run(a, int(b)) for b in a.batch_sizes.split(",")]
    threads = {"intra": tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count(),
               "inter": tf.config.threading.get_inter_op_parallelism_threads() or os.cpu_count()}
    print(json.dumps({"tensorflow": tf.__version__, "keras": keras.__version__, "threads": threads, "results": results}))


if __name__ == "__main__":
    main()
