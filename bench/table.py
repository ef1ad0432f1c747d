#!/usr/bin/python3
"""The table of bench/run.sh from its raw results file:  /usr/bin/python3 bench/table.py bench/results/FILE.txt

Speeds are medians over the seeds; each ratio is the median over seeds of ours / PyTorch for the same seed (the two
runs of a pair go back to back); accuracies are mean ± standard deviation over the seeds.
"""
import statistics as st
import sys
runs = {}
for line in open(sys.argv[1]).read().splitlines():
    if line.startswith("#"):
        print(line)
        continue
    who, rest = line.split(" ", 1)
    kv = dict(p.split("=") for p in rest.split())
    runs.setdefault((kv["net"], int(kv["threads"])), {}).setdefault(who, []).append(kv)
seeds = max(len(r) for side in runs.values() for r in side.values())
print(f"workload: Fashion-MNIST, batch 50, SGD lr 0.1, 1 epoch (60k images); inference 10k test images, batch 50; "
      f"over {seeds} seeds: median speed, median of the per-seed ratios, mean ± sd accuracy and per-seed difference")
hdr = ("net", "thr", "train img/s ours", "pytorch", "ratio", "train GFLOP/s ours", "pytorch", "share of peak ours",
       "pytorch", "infer img/s ours", "pytorch", "ratio", "peak RSS MB ours", "pytorch", "test acc ours", "pytorch",
       "ours − pytorch")
fmt = ("| {:<13} | {:>3} | {:>16} | {:>8} | {:>5} | {:>18} | {:>7} | {:>18} | {:>7} | {:>16} | {:>8} | {:>5} "
       "| {:>16} | {:>7} | {:>13} | {:>13} | {:>14} |")
print(fmt.format(*hdr))
print("|" + "|".join("-" * (len(c) + 2) for c in fmt.format(*hdr).split("|")[1:-1]) + "|")
med = lambda rs, k: st.median(float(r[k]) for r in rs)
def acc(rs):
    a = [100 * float(r["accuracy"]) for r in rs]
    return f"{st.mean(a):.2f}±{st.stdev(a):.2f}" if len(a) > 1 else f"{a[0]:.2f}"
def diff(o, p):  # ours − PyTorch's accuracy, seed by seed (points): mean ± sd
    theirs = {r.get("seed", "1"): float(r["accuracy"]) for r in p}
    d = [100 * (float(r["accuracy"]) - theirs[r.get("seed", "1")]) for r in o if r.get("seed", "1") in theirs]
    return f"{st.mean(d):+.2f}±{st.stdev(d):.2f}" if len(d) > 1 else f"{d[0]:+.2f}"
def ratio(o, p, k):  # the median over seeds of ours / PyTorch, each pair run back to back
    theirs = {r.get("seed", "1"): float(r[k]) for r in p}
    return st.median(float(r[k]) / theirs[r.get("seed", "1")] for r in o if r.get("seed", "1") in theirs)
# A training image's work: 3 products (forward, dW, dA) of the forward's multiply-adds, 2 flops each; the limit is
# one core's measured FMA peak (the wider of 256- and 512-bit vectors: on a core with two 512-bit FMA ports that is
# twice the 256-bit one, whichever vectors the kernels use) times the threads, measured in the same run.
def gflops(rs, macs):
    return med(rs, "train_ips") * 6 * macs / 1e9
speed = {}
peaks = []
for (net, t), r in sorted(runs.items()):
    o, p = r.get("ours"), r.get("torch")
    if not o or not p:
        continue
    speed[(net, t)] = med(o, "train_ips")
    macs = float(o[0].get("macs", 0))
    peak = max(med(o, "peak256_gflops"), med(o, "peak512_gflops") if "peak512_gflops" in o[0] else 0.0) \
        if "peak256_gflops" in o[0] else 0.0
    if peak:
        peaks += o
    share = lambda rs: f"{100 * gflops(rs, macs) / (peak * t):.0f}%" if peak else "-"
    print(fmt.format(net, t, f"{med(o, 'train_ips'):.0f}", f"{med(p, 'train_ips'):.0f}",
                     f"{ratio(o, p, 'train_ips'):.2f}x", f"{gflops(o, macs):.1f}", f"{gflops(p, macs):.1f}",
                     share(o), share(p),
                     f"{med(o, 'infer_ips'):.0f}", f"{med(p, 'infer_ips'):.0f}",
                     f"{ratio(o, p, 'infer_ips'):.2f}x",
                     f"{max(float(x['peak_rss_mb']) for x in o):.1f}", f"{max(float(x['peak_rss_mb']) for x in p):.1f}",
                     acc(o), acc(p), diff(o, p)))
if peaks:
    p256, p512 = med(peaks, "peak256_gflops"), med(peaks, "peak512_gflops")
    print(f"the limit: one core's FMA peak, the median over the runs: {p256:.1f} GFLOP/s with 256-bit vectors"
          + (f", {p512:.1f} with 512-bit" if p512 else "") + f" (kernels: {peaks[0]['isa']})")
for net in sorted({n for n, _ in speed}):
    if (net, 1) in speed and (net, 2) in speed:
        print(f"{net} training, ours, 2 threads / 1 thread: {speed[(net, 2)] / speed[(net, 1)]:.2f}x")
# Ours on other instruction sets (CNN_ISA=avx2, avx512, ...) on the same machine, when run.sh ran them: against the
# best path and against PyTorch.
for (net, t), r in sorted(runs.items()):
    o, p = r.get("ours"), r.get("torch")
    for key in sorted(k for k in r if k.startswith("ours-")):
        a = r[key]
        if a and o and p:
            print(f"{net}, {t} thread(s), {key[5:]} path: train {med(a, 'train_ips'):.0f} img/s, "
                  f"{ratio(a, o, 'train_ips'):.2f}x the {o[0].get('isa', 'best')} path, "
                  f"{ratio(a, p, 'train_ips'):.2f}x PyTorch; inference {ratio(a, o, 'infer_ips'):.2f}x, "
                  f"{ratio(a, p, 'infer_ips'):.2f}x")
