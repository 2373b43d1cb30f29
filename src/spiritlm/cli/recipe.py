"""`spiritlm recipe mini`: train our own mini Spirit LMs from nothing (see `spiritlm.training.recipe`)."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("recipe", help="reproduce a trained model from nothing")
    rsub = p.add_subparsers(dest="recipe", required=True, metavar="RECIPE")
    m = rsub.add_parser("mini", help="corpus -> speech tokenizers -> vocoders -> LMs -> bundle, resumable")
    m.add_argument("--work", required=True, help="work folder (corpus, runs, the resulting checkpoints root)")
    m.add_argument("--scale", default="mini", help="mini (the shipped models), mini2 (the v2 design: phone units, "
                   "WORLD vocoders, prosodic style tokens; issue 11), or tiny / tiny2 (a few minutes, for tests)")
    m.add_argument("--hours", type=float, help="corpus size in hours (default: the scale's)")
    m.add_argument("--workers", type=int, default=2, help="corpus builder processes")
    m.add_argument("--jobs", type=int, default=1,
                   help="stages to run side by side when their inputs are ready (each gets cores/jobs threads)")
    m.add_argument("--until", help="stop after this stage")
    m.add_argument("--only", action="append", help="run only this stage (repeatable)")
    m.add_argument("--force", action="append", help="re-run this stage even if done (repeatable)")
    m.add_argument("--keep", help="folder that keeps each finished stage's trained model (safetensors, JSON) and "
                   "restores it on a fresh machine instead of training it again, e.g. recipes/mini2/kept")
    m.add_argument("--install", action="store_true",
                   help="then copy the finished models into the package (src/spiritlm/assets/models), <= 80 MB")
    m.set_defaults(func=run)
    k = rsub.add_parser("keep", help="copy a work folder's finished stages and the LM runs' latest checkpoints "
                        "(bf16 weights, no optimizer moments) into a keep folder, now")
    k.add_argument("--work", required=True)
    k.add_argument("--scale", default="mini")
    k.add_argument("--hours", type=float, help="corpus size in hours the work folder was built with")
    k.add_argument("--keep", required=True)
    k.set_defaults(func=run_keep)


def run(args) -> int:
    import json

    from ..training.recipe import Recipe, install_bundle

    recipe = Recipe(args.work, args.scale, args.hours, args.workers, jobs=args.jobs, keep=args.keep)
    timings = recipe.run(args.until, args.only, args.force)
    installed = str(install_bundle(recipe.root)) if args.install else None
    print(json.dumps({"work": str(recipe.work), "seconds": timings, "root": str(recipe.root),
                      "installed": installed}, indent=2))
    return 0


def run_keep(args) -> int:
    import json
    from pathlib import Path

    from ..training.recipe import Recipe
    from ..training.recipe_keep import keep_all

    recipe = Recipe(args.work, args.scale, args.hours)
    if not recipe.work.is_dir():
        raise FileNotFoundError(f"work folder {recipe.work} does not exist")
    print(json.dumps({"keep": str(Path(args.keep).resolve()), "kept": keep_all(recipe, Path(args.keep))}, indent=2))
    return 0
