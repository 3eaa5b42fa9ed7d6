# The anchor of bench/large-data.ts: what a data scientist would write with pandas and
# scikit-learn for the same steps on the same generated CSV. `collect`: pandas.read_csv;
# `preprocess`: median impute + StandardScaler on the numeric columns, OneHotEncoder on the
# category. Prints one JSON line: seconds per step and the process's peak RSS (ru_maxrss).
#
#   python3 bench/large_data_pandas.py data.csv
import json
import resource
import sys
import time

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def main(path: str) -> None:
    t0 = time.perf_counter()
    df = pd.read_csv(path)
    t1 = time.perf_counter()
    numeric = [c for c in df.columns if c.startswith("f")]
    ct = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["cat"]),
        ]
    )
    x = ct.fit_transform(df)
    t2 = time.perf_counter()
    print(
        json.dumps(
            {
                "rows": len(df),
                "features": int(x.shape[1]),
                "collectSeconds": t1 - t0,
                "preprocessSeconds": t2 - t1,
                # Linux reports ru_maxrss in KiB
                "peakRssBytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
