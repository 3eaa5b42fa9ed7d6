# syntax=docker/dockerfile:1.7
# mlpipe's images, one per kind of host (docker-compose.yml uses both):
#   docker build --target cpu -t mlpipe:0.1.0-cpu .   # CPU workers, the model server, the CLI
#   docker build --target gpu -t mlpipe:0.1.0-gpu .   # GPU workers (native TensorFlow on CUDA 12)
# The native TensorFlow builds come from scripts/setup-native.sh (docs/native-tensorflow.md): the
# build stages have compilers and pip, the final stages only Node and the built tree. Checked
# statically only (test/compose.test.ts): no Docker engine runs where mlpipe is tested.

# --- build: the packages from the lockfile and the CPU build of native TensorFlow -------------
FROM node:20.18.1-bookworm AS build
# python3-pip fetches the TensorFlow wheels; g++/make/binutils build and check the addons.
RUN apt-get update && apt-get install -y --no-install-recommends python3-pip g++ make binutils \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /srv/mlpipe
COPY package.json package-lock.json ./
# npm ci: exactly the lockfile; package.json's allowScripts keeps tfjs's downloaders from running.
RUN npm ci --no-audit --no-fund
COPY . .
# A BuildKit cache keeps the wheels between builds; the libraries are copied out of it.
RUN --mount=type=cache,target=/root/.cache/mlpipe MLPIPE_CACHE=/root/.cache/mlpipe bash scripts/setup-native.sh \
    && npm prune --omit=dev --no-audit --no-fund

# --- gpu-build: adds tfjs-node-gpu, linked against the CUDA 12 runtime wheels -----------------
FROM build AS gpu-build
RUN --mount=type=cache,target=/root/.cache/mlpipe MLPIPE_CACHE=/root/.cache/mlpipe bash scripts/setup-native.sh --gpu

# --- gpu: a GPU worker (one per GPU); the NVIDIA Container Toolkit mounts the host's driver ----
FROM node:20.18.1-bookworm-slim AS gpu
ENV MLPIPE_HOME=/var/lib/mlpipe NVIDIA_DRIVER_CAPABILITIES=compute,utility
WORKDIR /srv/mlpipe
# Owned by root and read-only to the node user: a stage cannot change mlpipe's code.
COPY --from=gpu-build /srv/mlpipe /srv/mlpipe
RUN mkdir -p /var/lib/mlpipe && chown node:node /var/lib/mlpipe
USER node
ENTRYPOINT ["node", "bin/mlpipe.js"]
CMD ["worker", "--gpus", "1"]

# --- cpu (the default target): CPU workers, `mlpipe serve`, and the CLI ------------------------
FROM node:20.18.1-bookworm-slim AS cpu
ENV MLPIPE_HOME=/var/lib/mlpipe
WORKDIR /srv/mlpipe
COPY --from=build /srv/mlpipe /srv/mlpipe
RUN mkdir -p /var/lib/mlpipe && chown node:node /var/lib/mlpipe
USER node
ENTRYPOINT ["node", "bin/mlpipe.js"]
CMD ["worker", "--no-gpu-queue"]
