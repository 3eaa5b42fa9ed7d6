#!/usr/bin/env python3
"""Extract only what tfjs-node's binding needs from a tensorflow-cpu wheel.

usage: extract-libtensorflow.py WHEEL DEST
DEST/lib     libtensorflow_cc.so.2, libtensorflow_framework.so.2
DEST/include the C API headers (tensorflow/c, eager/c_api.h and the few headers they include)

Written to DEST.partial first and renamed at the end, so an interrupted run leaves no
half-extracted cache that a later run would trust.
"""
import os
import shutil
import sys
import zipfile

LIBS = {
    "tensorflow/libtensorflow_cc.so.2": "libtensorflow_cc.so.2",
    "tensorflow/libtensorflow_framework.so.2": "libtensorflow_framework.so.2",
}
# Header trees (below tensorflow/include/ in the wheel) that c_api.h and eager/c_api.h pull in.
HEADER_PREFIXES = (
    "tensorflow/c/",
    "tensorflow/core/platform/ctstring",
    "tensorflow/tsl/platform/ctstring",
    "tsl/platform/ctstring",
    "xla/tsl/c/",
    "tensorflow/compiler/xla/tsl/c/",
)
INCLUDE_ROOT = "tensorflow/include/"


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    wheel, dest = sys.argv[1], sys.argv[2]
    partial = dest + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(os.path.join(partial, "lib"))
    os.makedirs(os.path.join(partial, "include"))
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        for member, target in LIBS.items():
            if member not in names:
                print(f"error: {member} not in {wheel}: not a tensorflow-cpu 2.x manylinux wheel?", file=sys.stderr)
                return 1
            with z.open(member) as src, open(os.path.join(partial, "lib", target), "wb") as out:
                shutil.copyfileobj(src, out, 16 << 20)
            os.chmod(os.path.join(partial, "lib", target), 0o755)
        count = 0
        for member in names:
            if not member.startswith(INCLUDE_ROOT) or not member.endswith(".h"):
                continue
            rel = member[len(INCLUDE_ROOT):]
            if not rel.startswith(HEADER_PREFIXES):
                continue
            path = os.path.join(partial, "include", rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with z.open(member) as src, open(path, "wb") as out:
                shutil.copyfileobj(src, out)
            count += 1
    shutil.rmtree(dest, ignore_errors=True)
    os.rename(partial, dest)
    print(f"extracted 2 libraries and {count} headers to {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
