"""Fit and score scikit-learn's IsolationForest on vectors written by
scripts/bench-sklearn (float32, little endian, row-major), and report the
CPU time each step took. Run by the Go program; not meant to be run alone.

usage: iforest.py TRAIN TEST DIM TREES PSI SEED SCORES_OUT
prints one JSON object: {"version", "fit_cpu_s", "score_cpu_s", "rows"}
"""
import json
import sys
import time

import numpy as np
import sklearn
from sklearn.ensemble import IsolationForest


def main():
    train_path, test_path, dim, trees, psi, seed, out = sys.argv[1:8]
    dim, trees, psi, seed = int(dim), int(trees), int(psi), int(seed)
    train = np.fromfile(train_path, dtype="<f4").reshape(-1, dim)
    test = np.fromfile(test_path, dtype="<f4").reshape(-1, dim)
    model = IsolationForest(n_estimators=trees, max_samples=psi, max_features=1.0,
                            bootstrap=False, n_jobs=1, random_state=seed)
    t0 = time.process_time()
    model.fit(train)
    t1 = time.process_time()
    # score_samples is the opposite of the paper's anomaly score
    # s(x) = 2^(-E[h(x)]/c(psi)); negate it so higher is more anomalous, as ours.
    scores = -model.score_samples(test)
    t2 = time.process_time()
    scores.astype("<f8").tofile(out)
    json.dump({"version": sklearn.__version__, "fit_cpu_s": t1 - t0, "score_cpu_s": t2 - t1,
               "rows": int(test.shape[0])}, sys.stdout)


if __name__ == "__main__":
    main()
