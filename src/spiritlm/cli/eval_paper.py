"""`spiritlm eval paper` and `spiritlm eval paper-standins` (see `spiritlm.eval.paper`)."""

from __future__ import annotations

import logging


def register_paper(bench) -> None:
    p = bench.add_parser("paper", help="the paper's benchmarks on their own releases under --data-root, "
                                       "report in the layout of the paper's tables")
    p.add_argument("--model", required=True, help="model folder or name")
    p.add_argument("--data-root", required=True, help="folder holding the unpacked releases")
    p.add_argument("--out", default="paper-eval", help="output folder (report.md, results.json, items/)")
    p.add_argument("--only", default="", help="comma-separated subset: swuggy,sblimp,tsc,ssc,mmlu,intent")
    p.add_argument("--split", default="dev", help="sLM21 split (dev or test)")
    p.add_argument("--limit", type=int, default=None, help="items per benchmark (default: all)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--intent-shots", type=int, default=30)
    p.add_argument("--fresh", action="store_true", help="ignore the per-item cache of an earlier run")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.set_defaults(func=_run_paper)
    s = bench.add_parser("paper-standins", help="write synthetic stand-ins of the releases (NOT the real sets)")
    s.add_argument("root")
    s.add_argument("--n", type=int, default=10, help="items per benchmark")
    s.add_argument("--intent-train", type=int, default=30, help="intent training utterances (the shot pool)")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=_run_standins)


def _run_paper(args) -> int:
    from ..eval.paper.runner import PaperConfig, run_paper

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    cfg = PaperConfig(model=args.model, data_root=args.data_root, out=args.out, only=args.only, split=args.split,
                      limit=args.limit, batch_size=args.batch_size, intent_shots=args.intent_shots,
                      progress=args.progress, fresh=args.fresh)
    run_paper(cfg)
    print(open(f"{args.out}/report.md").read())
    return 0


def _run_standins(args) -> int:
    from ..eval.paper.standins import build_standins

    print(build_standins(args.root, args.n, args.intent_train, args.seed))
    return 0
