"""A TensorFlow Serving REST user's session against `mlpipe serve`, with `requests` only.

usage: tfserving_rest.py <base url> <model> <rows.json>
rows.json: {"features": [...input names...], "rows": [{...raw row...}, ...]}
Checks the shapes TF Serving answers with (model status, metadata, row and columnar predict,
versions and labels in the path, errors) and prints the predictions it got as JSON, for the
calling test to compare with mlpipe's own route.
"""
import json
import math
import sys

import requests

base, model, data = sys.argv[1], sys.argv[2], json.load(open(sys.argv[3]))
features, rows = data["features"], data["rows"]
api = f"{base}/v1/models/{model}"


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def post(path, body, status=200):
    r = requests.post(api + path, json=body, timeout=30)
    check(r.status_code == status, f"POST {path}: {r.status_code} {r.text[:300]}")
    return r.json()


def get(path, status=200):
    r = requests.get(api + path, timeout=30)
    check(r.status_code == status, f"GET {path}: {r.status_code} {r.text[:300]}")
    return r.json()


def close(a, b):
    return len(a) == len(b) and all(
        (close(x, y) if isinstance(x, list) else math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-7)) for x, y in zip(a, b)
    )


# Model status: every live version AVAILABLE with an OK status.
status = get("")["model_version_status"]
check(sorted(s["version"] for s in status) == ["1", "2"], f"status versions: {status}")
for s in status:
    check(s["state"] == "AVAILABLE" and s["status"] == {"error_code": "OK", "error_message": ""}, f"status: {s}")
one = get("/versions/1")["model_version_status"]
check([s["version"] for s in one] == ["1"], f"/versions/1 status: {one}")

# Metadata: the signature_def of the stable version; the dropped `id` is not an input.
meta = get("/metadata")
check(meta["model_spec"] == {"name": model, "signature_name": "", "version": "1"}, f"model_spec: {meta['model_spec']}")
defs = meta["metadata"]["signature_def"]["signature_def"]
sig = defs["serving_default"]
check(list(sig["inputs"]) == features, f"inputs: {list(sig['inputs'])}")
for name, t in sig["inputs"].items():
    check(t["dtype"] == "DT_FLOAT" and [d["size"] for d in t["tensor_shape"]["dim"]] == ["-1"], f"input {name}: {t}")
out = sig["outputs"]["probabilities"]
check(out["dtype"] == "DT_FLOAT" and [d["size"] for d in out["tensor_shape"]["dim"]] == ["-1", "3"], f"output: {out}")
check(sig["method_name"] == "tensorflow/serving/predict", sig["method_name"])
check(set(defs["predict"]["outputs"]) == {"probabilities", "class_id", "label"}, f"predict outputs: {defs['predict']['outputs']}")
check(get("/versions/2/metadata")["model_spec"]["version"] == "2", "version 2 metadata")

# Row format, lists of floats in the signature's input order.
lists = [[r[f] for f in features] for r in rows]
named = [{f: r[f] for f in features} for r in rows]
got = {}
for v in ("1", "2"):
    p = post(f"/versions/{v}:predict", {"instances": lists})["predictions"]
    check(len(p) == len(rows) and all(len(x) == 3 and math.isclose(sum(x), 1, rel_tol=1e-5) for x in p), f"v{v} predictions: {p[:2]}")
    got[v] = p
    # The same rows as named inputs, and columnar (named and as lists): the same numbers.
    same = [
        post(f"/versions/{v}:predict", {"signature_name": "serving_default", "instances": named})["predictions"],
        post(f"/versions/{v}:predict", {"inputs": {f: [r[f] for r in rows] for f in features}})["outputs"],
        post(f"/versions/{v}:predict", {"inputs": lists})["outputs"],
    ]
    for s in same:
        check(close(s, p), f"v{v}: another format gave other numbers: {s[:2]} vs {p[:2]}")
check(close(post("/labels/stable:predict", {"instances": lists})["predictions"], got["1"]), "labels/stable is version 1")
check(close(post("/labels/canary:predict", {"instances": lists})["predictions"], got["2"]), "labels/canary is version 2")
routed = post(":predict", {"instances": lists[:3]})["predictions"]
check(all(close(x, got["1"][i]) or close(x, got["2"][i]) for i, x in enumerate(routed)), "the unpinned path answers with v1 or v2")

# The `predict` signature: every output, one object per row (row format) or per output (columnar).
full = post("/versions/1:predict", {"signature_name": "predict", "instances": lists[:2]})["predictions"]
check(set(full[0]) == {"probabilities", "class_id", "label"} and isinstance(full[0]["class_id"], int), f"predict signature: {full[0]}")
check(close(full[0]["probabilities"], got["1"][0]), "predict signature's probabilities")
cols = post("/versions/1:predict", {"signature_name": "predict", "inputs": lists[:2]})["outputs"]
check(cols["label"] == [f["label"] for f in full], f"columnar labels: {cols}")

# Errors: {"error": "..."} with TF Serving's codes.
check("error" in get("/versions/9", 404), "unknown version")
check("Servable not found" in post("/versions/9:predict", {"instances": lists[:1]}, 404)["error"], "unknown version predict")
check("error" in post("/labels/nope:predict", {"instances": lists[:1]}, 404), "unknown label")
check("not found in signature def" in post(":predict", {"signature_name": "nope", "instances": lists[:1]}, 400)["error"], "signature")
check("error" in post(":predict", {"instances": [lists[0][:3]]}, 400), "a short row")
e = post(":predict", {"signature_name": "serving_default", "instances": [named[0], {**named[1], "petal_width": None}]}, 400)["error"]
check('row 2, column "petal_width"' in e, f"a missing value names row and column: {e}")
e = post(":predict", {"instances": lists[:1], "inputs": lists[:1]}, 400)["error"]
check("inputs" in e and "instances" in e, e)
check(":predict" in post(":classify", {"examples": [{}]}, 400)["error"], "classify points at predict")
r = requests.get(f"{base}/v1/models/nope", timeout=30)
check(r.status_code == 404 and "error" in r.json(), f"unknown model: {r.status_code} {r.text}")
r = requests.post(api + ":predict", data="{not json", headers={"content-type": "application/json"}, timeout=30)
check(r.status_code == 400 and "error" in r.json(), f"not JSON: {r.status_code}")

print(json.dumps({"v1": got["1"], "v2": got["2"], "labels": [f["label"] for f in full]}))
