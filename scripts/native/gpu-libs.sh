# shellcheck shell=bash
# The CUDA side of `scripts/setup-native.sh --gpu` (sourced by it; uses its say/die, ROOT, PKG,
# CACHE, WHEEL_DIR, LIB_CACHE, TF_VERSION).
#
# The GPU tensorflow wheel's libtensorflow_framework.so.2 dlopens the CUDA libraries (cudart,
# cublas, cudnn, ...) through its own RUNPATH, `$ORIGIN/../nvidia/<component>/lib`: in
# site-packages it sits next to the `nvidia/` tree of the nvidia-*-cu12 wheels. We rebuild that
# layout inside tfjs-node-gpu (deps/lib next to deps/nvidia), so the same RUNPATH finds them and no
# LD_LIBRARY_PATH is needed; the addon itself finds deps/lib through its rpath, as on the CPU route.

CUDA_PINS=cuda-requirements.txt # in LIB_CACHE: the nvidia-* pins read from the wheel's METADATA
CUDA_CACHE="$CACHE/cuda-libs-tensorflow-$TF_VERSION"
# What TensorFlow's DSO loader opens by name at run time (the sonames of the CUDA 12 wheels).
CUDA_SONAMES="libcudart.so.12 libcublas.so.12 libcublasLt.so.12 libcudnn.so.9 libcufft.so.11 libcusparse.so.12 libcusolver.so.11 libcupti.so.12 libnccl.so.2"

# Prints the wheel's and-cuda requirements as name==version lines; dies if it is not a GPU wheel.
gpu_read_pins() {
  python3 "$ROOT/scripts/native/cuda-requirements.py" "$1" ||
    die "could not read the CUDA requirements of $1" \
      "use the GPU-enabled 'tensorflow' wheel (not tensorflow-cpu): unset MLPIPE_TF_GPU_WHEEL or point it at tensorflow-$TF_VERSION-*.whl"
}

# Fetches the pinned CUDA wheels into WHEEL_DIR (only those missing), unpacks them once into
# CUDA_CACHE and links the tree into deps/nvidia.
gpu_place_cuda_libs() {
  local pin name version file missing=() wheels=()
  [ -f "$LIB_CACHE/$CUDA_PINS" ] || die "$LIB_CACHE/$CUDA_PINS is missing" "delete $LIB_CACHE and re-run"
  while read -r pin; do
    [ -n "$pin" ] || continue
    name="${pin%%==*}"
    version="${pin##*==}"
    file="$(ls "$WHEEL_DIR"/"${name//-/_}"-"$version"-*.whl 2>/dev/null | head -n1 || true)"
    if [ -n "$file" ]; then wheels+=("$file"); else missing+=("$pin"); fi
  done <"$LIB_CACHE/$CUDA_PINS"
  if [ "${#missing[@]}" -gt 0 ]; then
    say "downloading ${#missing[@]} CUDA 12 runtime wheels (~2.5 GB in all) into $WHEEL_DIR: ${missing[*]}"
    mkdir -p "$WHEEL_DIR"
    python3 -m pip download --no-deps --only-binary=:all: -d "$WHEEL_DIR" "${missing[@]}" ||
      die "pip could not download ${missing[*]}" \
        "set PIP_INDEX_URL to a reachable mirror, or copy those wheels into $WHEEL_DIR (see docs/native-tensorflow.md, GPU route)"
    for pin in "${missing[@]}"; do
      name="${pin%%==*}"
      wheels+=("$(ls "$WHEEL_DIR"/"${name//-/_}"-"${pin##*==}"-*.whl | head -n1)")
    done
  fi
  local want
  want="$(for file in "${wheels[@]}"; do basename "$file"; done | sort)"
  if [ "$(cat "$CUDA_CACHE/wheels.txt" 2>/dev/null)" = "$want" ]; then
    say "using cached CUDA libraries in $CUDA_CACHE"
  else
    say "extracting the CUDA libraries of ${#wheels[@]} wheels into $CUDA_CACHE"
    python3 "$ROOT/scripts/native/extract-cuda-libs.py" "$CUDA_CACHE" "${wheels[@]}" ||
      die "could not extract the CUDA wheels" "delete the ones named above from $WHEEL_DIR and re-run"
  fi
  # Hard links when the cache is on the same filesystem (no 3 GB copy), else a copy.
  rm -rf "$PKG/deps/nvidia"
  if ! cp -al "$CUDA_CACHE/nvidia" "$PKG/deps/nvidia" 2>/dev/null; then
    rm -rf "$PKG/deps/nvidia"
    cp -a "$CUDA_CACHE/nvidia" "$PKG/deps/nvidia"
  fi
}

# The directories libtensorflow_framework.so.2 searches when TensorFlow dlopens a CUDA library:
# its RUNPATH with $ORIGIN expanded as the loader does, one a line.
gpu_runpath_dirs() {
  command -v readelf >/dev/null && command -v ldd >/dev/null ||
    die "readelf and ldd are needed to check the GPU build's library paths" "Debian/Ubuntu: apt-get install -y binutils libc-bin"
  readelf -d "$PKG/deps/lib/libtensorflow_framework.so.2" | sed -n 's/.*(RUNPATH).*\[\(.*\)\]/\1/p' |
    tr ':' '\n' | awk '!seen[$0]++' | sed "s|\$ORIGIN|$PKG/deps/lib|"
}

# Linker flags that make the addon load, through its own rpath, the CUDA libraries that
# TensorFlow dlopens by name but its RUNPATH misses. TF 2.21's libtensorflow_framework lost
# nvidia/cusolver/lib from its RUNPATH (tensorflow PR #112973), and TensorFlow registers no GPU
# unless cusolver opens; a library already loaded is found by its soname, wherever it lives.
gpu_link_flags() {
  local lib dir found flags="-Wl,--no-as-needed"
  local dirs
  dirs="$(gpu_runpath_dirs)"
  for lib in $CUDA_SONAMES; do
    found=""
    while read -r dir; do [ -e "$dir/$lib" ] && found=1 && break; done <<<"$dirs"
    [ -z "$found" ] || continue
    dir="$(cd "$PKG/deps" && ls -d nvidia/*/lib/"$lib" 2>/dev/null | head -n1 || true)"
    [ -n "$dir" ] || die "$lib is not in $PKG/deps/nvidia" "re-run with MLPIPE_NATIVE_FORCE=1"
    dir="${dir%/*}"
    # \$$ORIGIN: make turns $$ into $, the shell's \$ keeps it literal for the linker.
    flags+=" -L$PKG/deps/$dir -l:$lib -Wl,-rpath,\\\$\$ORIGIN/../../deps/$dir"
  done
  printf '%s\n' "$flags"
}

# Where the loader resolves SONAME for FILE (ldd), as a canonical path; empty if it does not.
resolved() {
  local path
  path="$(ldd "$1" | sed -n "s|^[[:space:]]*$2 => \(/.*\) (0x.*|\1|p")"
  [ -z "$path" ] || readlink -f "$path"
}

# Proves the linkage with the loader's own tools: the addon resolves libtensorflow in deps/lib,
# every CUDA library TensorFlow opens by name is either in a directory of libtensorflow_framework's
# RUNPATH or loaded with the addon from deps/nvidia, and each resolves its own dependencies.
gpu_check_links() {
  local addon="$1" lib dir found bad dirs name summary=() deps
  deps="$(readlink -f "$PKG/deps")"
  for lib in libtensorflow_cc.so.2 libtensorflow_framework.so.2; do
    [ "$(resolved "$addon" "$lib")" = "$deps/lib/$lib" ] ||
      die "the addon does not resolve $lib in $PKG/deps/lib" "see ldd $addon and readelf -d $addon"
  done
  dirs="$(gpu_runpath_dirs)"
  for lib in $CUDA_SONAMES; do
    found=""
    name="${lib%%.so*}"
    while read -r dir; do [ -e "$dir/$lib" ] && found="$dir/$lib" && break; done <<<"$dirs"
    if [ -z "$found" ]; then
      found="$(resolved "$addon" "$lib")"
      case "$found" in
        "$deps"/nvidia/*) name+=" (loaded by the addon)" ;;
        *) die "$lib is neither in libtensorflow_framework.so.2's RUNPATH nor loaded by the addon from deps/nvidia" \
          "re-run with MLPIPE_NATIVE_FORCE=1; see readelf -d $addon" ;;
      esac
    fi
    bad="$(ldd "$found" | grep 'not found' || true)"
    [ -z "$bad" ] || die "$found has unresolved dependencies: $bad" "see ldd $found"
    summary+=("$name")
  done
  say "library paths (readelf/ldd): the addon finds deps/lib through its rpath; TensorFlow finds" \
    "$(printf '%s, ' "${summary[@]}" | sed 's/, $//') in deps/nvidia; no LD_LIBRARY_PATH"
}

# Says whether a CUDA device initialised, through mlpipe's own backend selection.
gpu_report() {
  (cd "$ROOT" && node --import tsx scripts/native/gpu-status.ts) | sed 's/^/[setup-native] /'
}
