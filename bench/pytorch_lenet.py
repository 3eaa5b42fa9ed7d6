#!/usr/bin/env python3
"""PyTorch CPU baseline for bench/train-speed.ts: the seed document's LeNet CNN, trained with its
own model code (SGD lr 0.001 momentum 0.9, CrossEntropyLoss) on synthetic 32x32x3 data.

usage: python3 bench/pytorch_lenet.py --batch-sizes 32,128 --samples 4096 --epochs 2
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
    import torch.nn.functional as F
    import torch.optim as optim
except ImportError:
    print(json.dumps({"error": "torch is not installed; install it with: python3 -m pip install torch==2.13.0 "
                      "(a CPU build; add --index-url https://download.pytorch.org/whl/cpu where needed)"}))
    sys.exit(3)


# The seed's model, as written there.
class CNN(nn.Module):
    def __init__(self):
        super(CNN, self).__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = x.view(-1, 16 * 5 * 5)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x


def run(batch_size: int, samples: int, epochs: int) -> dict:
    torch.manual_seed(0)
    inputs = torch.rand(samples, 3, 32, 32)
    labels = torch.randint(0, 10, (samples,))
    model = CNN()
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
    timed = 0
    start = 0.0
    cpu_start = 0.0
    for epoch in range(epochs + 1):  # epoch 0: warm-up
        if epoch == 1:
            start = time.perf_counter()
            cpu_start = time.process_time()
        perm = torch.randperm(samples)
        for i in range(0, samples, batch_size):
            idx = perm[i:i + batch_size]
            x, y = inputs[idx], labels[idx]
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
            loss.item()  # as the seed's loop does (running_loss += loss.item())
            if epoch >= 1:
                timed += len(idx)
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    # cpu: samples per CPU-second of this process (all threads): robust when other processes
    # compete for the cores, and the fair comparison at 1 thread
    return {"batchSize": batch_size, "samplesPerSecond": timed / wall, "samplesPerCpuSecond": timed / cpu}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch-sizes", default="32,128")
    ap.add_argument("--samples", type=int, default=4096)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads; 0 keeps the default")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    results = [run(int(b), a.samples, a.epochs) for b in a.batch_sizes.split(",")]
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "results": results}))


if __name__ == "__main__":
    main()
