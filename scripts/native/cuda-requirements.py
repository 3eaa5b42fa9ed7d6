#!/usr/bin/env python3
"""Print the CUDA runtime wheels the (GPU-enabled) tensorflow wheel declares for its `and-cuda` extra.

usage: cuda-requirements.py TENSORFLOW_WHEEL
prints one `name==version` line per `nvidia-*` requirement, at the lower bound TensorFlow
declares (for 2.21: CUDA 12.5.1's libraries, cuDNN 9.3, NCCL 2.27.7, the set it was built
against), so every GPU build gets the same libraries instead of whatever is newest that day.
"""
import email.parser
import re
import sys
import zipfile

# e.g. `nvidia-cudnn-cu12<10.0,>=9.3.0.75; extra == "and-cuda"`
REQUIREMENT = re.compile(r"^(?P<name>nvidia-[A-Za-z0-9_.-]+?)\s*\(?(?P<spec>[<>=!~][^;)]*)\)?\s*;(?P<marker>.*)$")
EXTRA = re.compile(r"""extra\s*==\s*["']and[-_]cuda["']""")
LOWER_BOUND = re.compile(r">=\s*([0-9][0-9A-Za-z.]*)")


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    wheel = sys.argv[1]
    with zipfile.ZipFile(wheel) as z:
        metadata = [n for n in z.namelist() if n.endswith(".dist-info/METADATA")]
        if len(metadata) != 1:
            print(f"error: {wheel} has no single .dist-info/METADATA: not a wheel?", file=sys.stderr)
            return 1
        meta = email.parser.Parser().parsestr(z.read(metadata[0]).decode("utf-8"))
    # tensorflow-cpu declares the same extra, but its libraries have no CUDA kernels.
    if meta.get("Name", "").lower() != "tensorflow":
        print(f"error: {wheel} is {meta.get('Name')!r}, not the GPU-enabled 'tensorflow' wheel", file=sys.stderr)
        return 1
    pins = []
    for req in meta.get_all("Requires-Dist") or []:
        m = REQUIREMENT.match(req.strip())
        if not m or not EXTRA.search(m.group("marker")):
            continue
        low = LOWER_BOUND.search(m.group("spec"))
        if not low:
            print(f"error: {req!r} in {wheel} has no lower bound to pin", file=sys.stderr)
            return 1
        pins.append(f"{m.group('name')}=={low.group(1)}")
    if not pins:
        print(f"error: {wheel} declares no nvidia-* requirements for the and-cuda extra: not a tensorflow 2.x wheel?", file=sys.stderr)
        return 1
    print("\n".join(sorted(pins)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
