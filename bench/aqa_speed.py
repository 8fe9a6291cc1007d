"""Training and inference speed of HP-MCoRe, CPU (and GPU when there is one).

    python bench/aqa_speed.py [--quick] [--device cpu|cuda]

Measures, on generated dives with the FineDiving shapes (T = 96 frames, MPII-16, I3D-like
9 x 1024 clip features, ResNet-like 96 x 2048 frame features) and the paper's model sizes
(configs/aqa/finediving.yaml, or the small demo model with --small):

* training pairs per second (forward + backward + Adam step, batch 8);
* inference milliseconds per query with M = 10 exemplars (encode the query and its 10
  exemplars, regress, vote - nothing cached), batch 1;
* peak memory (CUDA: max allocated; CPU: max RSS of a fresh process per variant).

The baseline measured in the same run is the skeleton-only model (HSE alone): every figure
is also printed as a ratio to it.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import torch

from posekit.io import write_json
from posekit.models import HPMCoRe, HPMCoReConfig

ROOT = Path(__file__).resolve().parents[1]


def batch(N: int, T: int, dyn: int, st: int, device: str, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    b = {
        "pose": torch.randn(N, 3, T, 16, generator=g),
        "dynamic": torch.randn(N, 9, dyn, generator=g),
        "static": torch.randn(N, T, st, generator=g),
        "boundaries": torch.tensor([[T // 4, 3 * T // 4]] * N),
        "target": torch.rand(N, generator=g) * 100,
    }
    return {k: v.to(device) for k, v in b.items()}


def measure(cfg: HPMCoReConfig, device: str, steps: int, bs: int) -> dict[str, float]:
    torch.manual_seed(0)
    model = HPMCoRe(cfg).to(device)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    q, e = (
        batch(bs, cfg.T, cfg.dynamic_dim or 1, cfg.static_dim or 1, device, 1),
        batch(bs, cfg.T, cfg.dynamic_dim or 1, cfg.static_dim or 1, device, 2),
    )
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    for i in range(steps + 2):  # 2 warm-up steps
        if i == 2:
            sync()
            t0 = time.perf_counter()
        out = model(q, e)
        loss = ((out["pred"] - q["target"]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    sync()
    train_pairs_s = steps * bs / (time.perf_counter() - t0)
    model.eval()
    q1 = batch(1, cfg.T, cfg.dynamic_dim or 1, cfg.static_dim or 1, device, 3)
    ex = batch(10, cfg.T, cfg.dynamic_dim or 1, cfg.static_dim or 1, device, 4)
    times = []
    with torch.no_grad():
        for i in range(steps + 2):
            sync()
            t0 = time.perf_counter()
            qe = model.encode(q1)
            ee = model.encode(ex)
            exs = [ee.index(torch.tensor([m], device=device)) for m in range(10)]
            model.vote(qe, exs, ex["target"][None])
            sync()
            if i >= 2:
                times.append(time.perf_counter() - t0)
    peak = (
        torch.cuda.max_memory_allocated() / 2**20
        if device.startswith("cuda")
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    return {
        "train_pairs_per_s": train_pairs_s,
        "infer_ms_per_query_M10": 1000 * sorted(times)[len(times) // 2],
        "peak_mem_mib": peak,
        "params_m": sum(p.numel() for p in model.parameters()) / 1e6,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="few steps, small model")
    ap.add_argument("--small", action="store_true", help="the demo model size instead of the paper's")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    small = args.small or args.quick
    steps = 2 if args.quick else args.steps
    base = dict(T=96, dynamic_dim=1024, static_dim=2048)
    size = (
        dict(dim=32, tokens=3, hse_blocks=1, decoder_layers=1, mlp_hidden=32, seg_hidden=32)
        if small
        else dict(dim=256, tokens=5, hse_blocks=2, decoder_layers=4, decoder_heads=4, mlp_hidden=256, seg_hidden=128)
    )
    variants = {
        "skeleton only (baseline)": HPMCoReConfig(**base, **size, dve=False, sve=False),
        "fused HP-MCoRe": HPMCoReConfig(**base, **size),
    }
    res = {}
    import multiprocessing as mp

    for name, cfg in variants.items():  # one fresh process per variant: its own peak memory
        with mp.get_context("spawn").Pool(1) as pool:
            res[name] = pool.apply(measure, (cfg, args.device, steps, 8))
    b = res["skeleton only (baseline)"]
    dev = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"CPU ({torch.get_num_threads()} threads)"
    print(f"device: {dev}; model size: {'demo' if small else 'paper (FineDiving config)'}")
    print(f"{'model':<26}{'params M':>9}{'train pairs/s':>15}{'infer ms (M=10)':>17}{'peak MiB':>10}")
    for name, r in res.items():
        print(
            f"{name:<26}{r['params_m']:>9.2f}{r['train_pairs_per_s']:>15.2f}{r['infer_ms_per_query_M10']:>17.1f}"
            f"{r['peak_mem_mib']:>10.0f}"
        )
    f = res["fused HP-MCoRe"]
    print(
        f"ratio fused / skeleton-only: train {f['train_pairs_per_s'] / b['train_pairs_per_s']:.3f}x, "
        f"inference time {f['infer_ms_per_query_M10'] / b['infer_ms_per_query_M10']:.3f}x"
    )
    out = args.out or ROOT / "bench" / "results" / f"aqa_speed_{args.device.split(':')[0]}.json"
    write_json(out, {"device": dev, "small": small, "steps": steps, "results": res})
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
