"""Export scikit-learn's bundled copy of the Iris data set (no download) to iris.csv."""
import csv
from pathlib import Path

from sklearn.datasets import load_iris

iris = load_iris()
out = Path(__file__).with_name("iris.csv")
with out.open("w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["sepal_length", "sepal_width", "petal_length", "petal_width", "species"])
    for x, y in zip(iris.data, iris.target):
        w.writerow([f"{v:.1f}" for v in x] + [iris.target_names[y]])
