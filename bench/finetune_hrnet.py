"""HRNet fine-tuning on the real labelled FineDiving frames: speed and PCKh, with and without
pseudo-labels.

    python bench/finetune_hrnet.py [--iters 60] [--batch-size 8] [--device cpu|cuda] [--quick]

Trains HRNet-W32 from scratch (no pretrained weights can be downloaded here; pass --init for
a local mmpose zoo checkpoint) on 80% of the 51 frames, twice in the same run: labels only
(the baseline), and labels + the default estimator's confident predictions on unlabelled
frames (the real broadcast GIF's frames), weighted 0.5. Prints iterations/s and validation
PCKh@0.5 of both, and their ratio. 51 frames are few: expect low absolute numbers from scratch.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from posekit.io import write_json
from posekit.paths import shared_data


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iters", type=int, default=60)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--init", type=Path)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--quick", action="store_true", help="4 iterations")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "finetune_hrnet.json")
    args = ap.parse_args(argv)
    data = shared_data("finediving", "pose_frames")
    gif = shared_data("videos", "mtl_aqa_diving_sample.gif")
    if data is None or gif is None:
        print("finetune_hrnet: ../shared/data not found", file=sys.stderr)
        return 1
    from posekit.pose.finetune import finetune
    from posekit.pose.video import read_clip

    iters = 4 if args.quick else args.iters
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        unl = Path(tmp) / "unlabelled"
        unl.mkdir()
        from PIL import Image

        for t, f in enumerate(read_clip(gif).frames):
            Image.fromarray(f).save(unl / f"gif_{t:03d}.jpg")
        for name, pseudo in (("labels_only", None), ("labels_plus_pseudo", unl)):
            t0 = time.perf_counter()
            s = finetune(
                data,
                Path(tmp) / name,
                init=args.init,
                iters=iters,
                batch_size=args.batch_size,
                val_fraction=0.2,
                seed=0,
                pseudo=pseudo,
                device=args.device,
            )
            sec = time.perf_counter() - t0
            results[name] = {
                "val_pckh": s["val_pckh"]["pckh"],
                "loss_first": s["losses"][0],
                "loss_last": s["losses"][-1],
                "seconds_total": sec,
                "iters": iters,
                "batch_size": args.batch_size,
            }
            print(
                f"{name:20s} PCKh@0.5 {s['val_pckh']['pckh']:.3f}  loss {s['losses'][0]:.5f} -> "
                f"{s['losses'][-1]:.5f}  ({sec:.0f} s incl. evaluation, {iters / sec:.3f} it/s upper bound)"
            )
    r = results["labels_plus_pseudo"]["val_pckh"] / max(results["labels_only"]["val_pckh"], 1e-9)
    print(f"ratio pseudo / labels only: {r:.3f}")
    write_json(args.out, {"device": args.device, **results, "ratio": r})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
