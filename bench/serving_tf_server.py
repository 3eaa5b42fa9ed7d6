"""The serving bench's stand-in for what a user would otherwise deploy: a small Python HTTP server
on tensorflow-cpu (TensorFlow Serving's binary cannot be installed here). It rebuilds the bench's
model in Keras from the exported TensorFlow.js layers model (model.json + weights.bin, as
`mlpipe artifacts get … train.model` writes them: weights in the manifest's order) and answers TF
Serving's row format, {"instances": [[feature, ...], ...]} -> {"predictions": [[p, ...], ...]}.

It gets features already transformed (the bench applies the saved transform before sending), so it
does less work per request than mlpipe's server, which transforms raw rows. Threaded, HTTP/1.1
keep-alive, and the model called as one compiled tf.function (much faster than model.predict for
a few rows): the strongest simple Python server, not a straw man.

Usage: python3 serving_tf_server.py <port> <model-dir> <iris|mnist>
"""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

port, model_dir, kind = int(sys.argv[1]), sys.argv[2], sys.argv[3]
L = tf.keras.layers

if kind == "iris":
    shape = (4,)
    model = tf.keras.Sequential([L.Input(shape), L.Dense(8, activation="relu"), L.Dense(3, activation="softmax")])
else:
    shape = (28, 28, 1)
    model = tf.keras.Sequential([
        L.Input(shape),
        L.Conv2D(6, 5, activation="relu", padding="same"),
        L.MaxPooling2D(2),
        L.Conv2D(16, 5, activation="relu"),
        L.MaxPooling2D(2),
        L.Flatten(),
        L.Dense(120, activation="relu"),
        L.Dense(84, activation="relu"),
        L.Dense(10, activation="softmax"),
    ])

with open(os.path.join(model_dir, "model.json")) as f:
    manifest = json.load(f)["weightsManifest"][0]["weights"]
raw = np.fromfile(os.path.join(model_dir, "weights.bin"), dtype=np.float32)
arrays, at = [], 0
for w in manifest:
    n = int(np.prod(w["shape"])) if w["shape"] else 1
    arrays.append(raw[at:at + n].reshape(w["shape"]))
    at += n
model.set_weights(arrays)

forward = tf.function(lambda x: model(x, training=False), input_signature=[tf.TensorSpec((None,) + shape, tf.float32)])


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes: without TCP_NODELAY, Nagle's algorithm and the
    # client's delayed ACK hold each answer ~40 ms, which would make this a straw man.
    disable_nagle_algorithm = True

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        x = np.asarray(body["instances"], dtype=np.float32).reshape((-1,) + shape)
        out = json.dumps({"predictions": forward(x).numpy().tolist()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
server.daemon_threads = True
print("listening", flush=True)
server.serve_forever()
