"""Panel latency: slider change -> updated metrics and plots (issue 18 bars: median <= 0.2x the
by-hand cell; threshold slider <= 0.05x).

LogisticRegression on breast_cancer. Each measurement sets the C slider's ``value`` (what the
browser's message does: the widget's own observers run), then waits until the refit in the
panel's worker thread has updated the metric readouts and both PNGs (ROC, confusion matrix).
Values cycle over a log grid so every change really refits.

Baseline, interleaved with it (order alternating): what a notebook cell would do by hand for
the same change, ``nbml.train(model)`` plus ``nbml.evaluate`` plots drawn into a new figure
and rendered to PNG (store off on both sides). Also measured: the threshold slider (no refit;
confusion matrix, ROC marker and precision/recall only), and the by-hand cell with one BLAS
thread (the panel refits small data with one: this shows how much of the gain is that).

    python benchmarks/panel_latency.py [--repeats 30]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ["NBML_STORE"] = "off"

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

import nbml
from nbml.plots import figure_of, png_base64
from nbml.widgets import Panel


def p90(values):
    return float(np.percentile(values, 90))


def by_hand(split, C):
    result = nbml.train(LogisticRegression(max_iter=1000, C=C), split=split)
    png_base64(figure_of(result.predictions, ("roc", "cm")), dpi=72)
    return result.metrics


def by_hand_one_thread(split, C):
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return by_hand(split, C)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()

    split = nbml.split(load_breast_cancer(as_frame=True).frame, target="target", seed=0, activate=False)
    panel = Panel(LogisticRegression(max_iter=1000), split=split, params="C", background=True)
    slider = panel.controls[0].widget
    grid = [float(c) for c in np.geomspace(1e-3, 1e2, 11)]
    by_hand(split, 1.0)  # warm-up

    panel_times, hand_times, threshold_times, one_thread_times = [], [], [], []
    for i in range(args.repeats):
        C = grid[i % len(grid)] if slider.value != grid[i % len(grid)] else grid[(i + 1) % len(grid)]
        draws = {k: f.n_draws for k, f in panel.figures.items()}

        def through_panel(C=C, draws=draws):
            start = time.perf_counter()
            slider.value = C
            assert panel.wait(30)
            took = time.perf_counter() - start
            assert panel.current.params["C"] == C
            assert all(panel.figures[k].n_draws == draws[k] + 1 for k in draws)  # both plots redrawn
            assert panel.figures["roc"].image is None or panel.figures["roc"].image.value == panel.figures["roc"].png
            return took

        def manual(C=C, how=by_hand):
            start = time.perf_counter()
            how(split, C)
            return time.perf_counter() - start

        if i % 2:
            hand_times.append(manual())
            panel_times.append(through_panel())
        else:
            panel_times.append(through_panel())
            hand_times.append(manual())
        one_thread_times.append(manual(how=by_hand_one_thread))

        start = time.perf_counter()
        panel.threshold.value = 0.3 + 0.4 * (i % 2)
        assert panel.wait(30)
        threshold_times.append(time.perf_counter() - start)

    med, hand = statistics.median(panel_times), statistics.median(hand_times)
    threshold, one_thread = statistics.median(threshold_times), statistics.median(one_thread_times)
    print(f"LogisticRegression on breast_cancer, {args.repeats} slider changes each (interleaved); "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'':36s}{'median ms':>10s}{'p90 ms':>10s}")
    for label, times in (("panel: C slider -> metrics+plots", panel_times),
                         ("by hand: train + 2 plots to PNG", hand_times),
                         ("by hand, 1 BLAS thread", one_thread_times),
                         ("panel: threshold slider (no refit)", threshold_times)):
        print(f"{label:36s}{statistics.median(times) * 1000:10.1f}{p90(times) * 1000:10.1f}")
    print(f"panel / by hand (medians): {med / hand:.3f} (bar <= 0.2: {'PASS' if med <= 0.2 * hand else 'FAIL'}); "
          f"/ by hand with 1 BLAS thread: {med / one_thread:.3f}")
    print(f"threshold / by hand (medians): {threshold / hand:.3f} "
          f"(bar <= 0.05: {'PASS' if threshold <= 0.05 * hand else 'FAIL'})")


if __name__ == "__main__":
    main()
