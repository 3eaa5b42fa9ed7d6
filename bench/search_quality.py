"""The Python side of bench/search-quality.ts (run by it; needs optuna==5.0.0 and scikit-learn==1.9.1).

    python3 bench/search_quality.py export OUT.csv
        sklearn's bundled breast-cancer data as CSV: 30 feature columns, then the label.

    python3 bench/search_quality.py optuna CONFIG.json
        Optuna's TPESampler over the bench's space, each trial's objective computed by mlpipe's
        own training code: the objective command in CONFIG runs once, and trials are sent to it as
        JSON lines (bench/search-objective.ts --serve). Prints one JSON document with every
        trial's value per variant and seed. Variant sameStart begins with mlpipe's random start
        (CONFIG's starts, by seed) as enqueued trials.
"""
import json
import math
import subprocess
import sys


def export(out_path):
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    with open(out_path, "w") as f:
        f.write(",".join([f"f{i}" for i in range(data.data.shape[1])] + ["label"]) + "\n")
        for row, label in zip(data.data, data.target):
            f.write(",".join(repr(float(v)) for v in row) + f",{int(label)}\n")


def suggest(trial, path, d):
    """One mlpipe dimension (src/core/search/space.ts) as the matching Optuna distribution."""
    if d["type"] == "uniform":
        return trial.suggest_float(path, d["min"], d["max"])
    if d["type"] == "logUniform":
        return trial.suggest_float(path, d["min"], d["max"], log=True)
    if d["type"] == "int":
        return trial.suggest_int(path, d["min"], d["max"], step=d.get("step", 1), log=d.get("log", False))
    raise ValueError(f"{path}: the bench's space has only uniform, logUniform and int dimensions")


class Objective:
    """The objective process: one trial at a time over its stdin and stdout."""

    def __init__(self, command, cwd):
        self.proc = subprocess.Popen(command, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def __call__(self, params):
        self.proc.stdin.write(json.dumps(params) + "\n")
        self.proc.stdin.flush()
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"the objective process ended (exit code {self.proc.wait()})")
            if line.startswith("@objective "):
                return json.loads(line[len("@objective "):])["value"]

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def run_optuna(config):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    objective = Objective(config["objectiveCommand"], config["cwd"])
    space = config["space"]
    variants = {"default": {}, "univariate": {"multivariate": False}, "sameStart": {"multivariate": False}}
    out = {"optuna": optuna.__version__, "runs": []}
    try:
        for name in config["variants"]:
            for seed in config["seeds"]:
                def f(trial):
                    value = objective({path: suggest(trial, path, d) for path, d in sorted(space.items())})
                    return math.nan if value is None else value  # NaN: Optuna records a failed trial

                sampler = optuna.samplers.TPESampler(seed=seed, **variants[name])
                study = optuna.create_study(direction="minimize", sampler=sampler)
                if name == "sameStart":
                    for params in config["starts"][str(seed)]:
                        study.enqueue_trial(params)
                study.optimize(f, n_trials=config["trials"])
                values = [t.value if t.state == optuna.trial.TrialState.COMPLETE else None for t in study.trials]
                out["runs"].append({"variant": name, "seed": seed, "values": values})
                print(f"optuna {name} seed {seed}: best {study.best_value:.4f}", file=sys.stderr, flush=True)
    finally:
        objective.close()
    print(json.dumps(out))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "export":
        export(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "optuna":
        with open(sys.argv[2]) as f:
            run_optuna(json.load(f))
    else:
        sys.exit(__doc__)
