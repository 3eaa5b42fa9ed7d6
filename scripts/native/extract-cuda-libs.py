#!/usr/bin/env python3
"""Unpack the nvidia-*-cu12 runtime wheels into one `nvidia/` tree, as pip would lay them out.

usage: extract-cuda-libs.py DEST WHEEL...
DEST/nvidia/<component>/lib/*.so*  (cudnn, cublas, cuda_runtime, ...; headers left out)
DEST/wheels.txt                    the wheel file names, one a line (what DEST was built from)

The GPU tensorflow wheel's libtensorflow_framework.so.2 finds its CUDA libraries through its
RUNPATH `$ORIGIN/../nvidia/<component>/lib` (it sits next to `nvidia/` in site-packages), and
each CUDA library finds its siblings through its own `$ORIGIN`-relative RUNPATH, so keeping
pip's layout is what makes them resolve without LD_LIBRARY_PATH.

Written to DEST.partial first and renamed at the end, so an interrupted run leaves no
half-extracted tree that a later run would trust. File modes come from the wheel (ptxas stays
executable).
"""
import os
import shutil
import sys
import zipfile


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    dest, wheels = sys.argv[1], sys.argv[2:]
    partial = dest + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(partial)
    files = 0
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as z:
            for info in z.infolist():
                name = info.filename
                parts = name.split("/")
                if parts[0] != "nvidia" or name.endswith(("/", ".py")) or "include" in parts or ".." in parts:
                    continue
                path = os.path.join(partial, *parts)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with z.open(info) as src, open(path, "wb") as out:
                    shutil.copyfileobj(src, out, 16 << 20)
                mode = (info.external_attr >> 16) & 0o777
                os.chmod(path, (mode or 0o644) | 0o644)
                files += 1
    with open(os.path.join(partial, "wheels.txt"), "w") as f:
        f.write("".join(os.path.basename(w) + "\n" for w in sorted(wheels)))
    shutil.rmtree(dest, ignore_errors=True)
    os.rename(partial, dest)
    print(f"extracted {files} files from {len(wheels)} CUDA wheels to {dest}/nvidia")
    return 0


if __name__ == "__main__":
    sys.exit(main())
