"""A KServe v2 user's session against `mlpipe serve` with tritonclient.http, used as its docs show.

usage: kserve_v2_triton.py <host:port> <model> <rows.json>
rows.json: {"features": [...input names...], "rows": [{...raw row...}, ...]}
Checks liveness, readiness, server and model metadata, and inference (binary tensors, the
client's default, and JSON), and prints what the model answered as JSON for the calling test.
"""
import json
import sys

import numpy as np
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

url, model, data = sys.argv[1], sys.argv[2], json.load(open(sys.argv[3]))
features, rows = data["features"], data["rows"]
client = httpclient.InferenceServerClient(url=url)


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def raises(fn, needle):
    try:
        fn()
    except InferenceServerException as e:
        check(needle in e.message(), f"error {e.message()!r} lacks {needle!r}")
        return
    raise AssertionError(f"no error (wanted one with {needle!r})")


check(client.is_server_live(), "server live")
check(client.is_server_ready(), "server ready")
meta = client.get_server_metadata()
check(meta["name"] == "mlpipe" and "binary_tensor_data" in meta["extensions"], f"server metadata: {meta}")
check(client.is_model_ready(model), "model ready")
check(client.is_model_ready(model, "1") and client.is_model_ready(model, "2"), "versions ready")
check(not client.is_model_ready(model, "9"), "no version 9")
check(not client.is_model_ready("nope"), "no model nope")

m = client.get_model_metadata(model)
check(m["name"] == model and sorted(m["versions"]) == ["1", "2"], f"model metadata: {m}")
check([(i["name"], i["datatype"], i["shape"]) for i in m["inputs"]] == [(f, "FP32", [-1]) for f in features], f"inputs: {m['inputs']}")
outs = {o["name"]: (o["datatype"], o["shape"]) for o in m["outputs"]}
check(outs == {"probabilities": ("FP32", [-1, 3]), "class_id": ("INT64", [-1]), "label": ("BYTES", [-1])}, f"outputs: {outs}")
check(client.get_model_metadata(model, "2")["versions"] == ["2"], "version 2 metadata")


def inputs(binary, column=False):
    out = []
    for f in features:
        x = np.array([r[f] for r in rows], dtype=np.float32)
        if column:
            x = x.reshape(-1, 1)
        i = httpclient.InferInput(f, list(x.shape), "FP32")
        i.set_data_from_numpy(x, binary_data=binary)
        out.append(i)
    return out


got = {}
for v in ("1", "2"):
    # The client's defaults: binary input tensors, all outputs in binary.
    r = client.infer(model, inputs(True), model_version=v, request_id=f"req-{v}")
    check(r.get_response()["id"] == f"req-{v}" and r.get_response()["model_version"] == v, f"response: {r.get_response()}")
    p = r.as_numpy("probabilities")
    check(p.shape == (len(rows), 3) and np.allclose(p.sum(axis=1), 1, atol=1e-5), f"probabilities {p.shape}")
    labels = [b.decode() for b in r.as_numpy("label")]
    ids = r.as_numpy("class_id")
    check(ids.dtype == np.int64 and list(ids) == list(p.argmax(axis=1)), f"class ids {ids}")
    got[v] = {"probabilities": p.tolist(), "labels": labels}
    # JSON both ways, [N, 1] inputs, only some outputs: the same numbers.
    j = client.infer(
        model,
        inputs(False, column=True),
        model_version=v,
        outputs=[httpclient.InferRequestedOutput("probabilities", binary_data=False), httpclient.InferRequestedOutput("label", binary_data=False)],
        parameters={"note": "json"},
    )
    check(np.array_equal(j.as_numpy("probabilities"), p), "JSON probabilities equal the binary ones")
    check([x.decode() if isinstance(x, bytes) else x for x in j.as_numpy("label")] == labels, "JSON labels")
    check(j.as_numpy("class_id") is None, "only the requested outputs")

routed = client.infer(model, inputs(True)).get_response()["model_version"]
check(routed in ("1", "2"), f"routed to {routed}")

# Errors come back as InferenceServerException with the server's reason.
raises(lambda: client.infer(model, inputs(True)[:3]), 'column "petal_width": value is missing')
bad = httpclient.InferInput("species", [1], "BYTES")
bad.set_data_from_numpy(np.array([b"x"], dtype=np.object_))
raises(lambda: client.infer(model, [bad]), "unexpected inference input 'species'")
raises(lambda: client.infer(model, inputs(True), model_version="9"), "no version")
raises(lambda: client.get_model_metadata("nope"), 'no model "nope"')

print(json.dumps(got))
