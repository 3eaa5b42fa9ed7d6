#!/usr/bin/env python3
"""PyTorch CPU baseline for bench/train-speed.ts's recurrent race: a 2-layer nn.LSTM (hidden 64
by default) over sequences of 50 steps of 8 features, its last step's output through a linear
classifier head (10 classes), Adam lr 0.001, CrossEntropyLoss; synthetic data.

usage: python3 bench/pytorch_lstm.py --batch-sizes 32 --samples 2048 --epochs 2 --threads 2
Prints one JSON line: {"torch": version, "threads": n, "results": [{"batchSize", "samplesPerSecond", "samplesPerCpuSecond"}]}
The first epoch is a warm-up and is not timed.
"""
import argparse
import json
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.optim as optim
except ImportError:
    print(json.dumps({"error": "torch is not installed; install it with: python3 -m pip install torch==2.13.0 "
                      "(a CPU build; add --index-url https://download.pytorch.org/whl/cpu where needed)"}))
    sys.exit(3)


class Classifier(nn.Module):
    def __init__(self, features: int, hidden: int, classes: int):
        super().__init__()
        self.lstm = nn.LSTM(features, hidden, num_layers=2, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


def run(a, batch_size: int) -> dict:
    torch.manual_seed(0)
    inputs = torch.rand(a.samples, a.steps, a.features)
    labels = torch.randint(0, a.classes, (a.samples,))
    model = Classifier(a.features, a.hidden, a.classes)
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=0.001)
    timed = 0
    start = cpu_start = 0.0
    for epoch in range(a.epochs + 1):  # epoch 0: warm-up
        if epoch == 1:
            start = time.perf_counter()
            cpu_start = time.process_time()
        perm = torch.randperm(a.samples)
        for i in range(0, a.samples, batch_size):
            idx = perm[i:i + batch_size]
            optimizer.zero_grad()
            loss = criterion(model(inputs[idx]), labels[idx])
            loss.backward()
            optimizer.step()
            loss.item()
            if epoch >= 1:
                timed += len(idx)
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    return {"batchSize": batch_size, "samplesPerSecond": timed / wall, "samplesPerCpuSecond": timed / cpu}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch-sizes", default="32")
    ap.add_argument("--samples", type=int, default=2048)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--features", type=int, default=8)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads; 0 keeps the default")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    results = [run(a, int(b)) for b in a.batch_sizes.split(",")]
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "results": results}))


if __name__ == "__main__":
    main()
