"""A Markdown report of benchmark results, with the command that produced them and issue 7's targets.

Input: result dicts (`BenchResult.to_dict()`), as `spiritlm eval ... --out results.json` writes them
(a file holds one result, a list, or ``{"command": ..., "results": [...]}``). Output::

    Command: `spiritlm eval all --model ... --manifest ...`

    | benchmark | metric | value | n | target | met |
    |---|---|---|---|---|---|
    | resynthesis | cer | 0.0712 | 100 | <= 0.1 | yes |

Targets (issue 7): resynthesis CER <= 10%, TTS CER <= 30%, ASR WER <= 30%, S->S style >= 3x chance,
sentiment accuracy above chance (1/3). Other metrics are listed without a target.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

TARGETS: dict[tuple[str, str], tuple[str, float]] = {
    ("resynthesis", "cer"): ("<=", 0.10),
    ("tts", "cer"): ("<=", 0.30),
    ("asr", "wer"): ("<=", 0.30),
    ("style", "x_chance"): (">=", 3.0),
    ("sentiment_t2s", "accuracy"): (">", 1 / 3),
    ("sentiment_s2t", "accuracy"): (">", 1 / 3),
    ("sentiment_s2s", "accuracy"): (">", 1 / 3),
    ("sentiment_t2t", "accuracy"): (">", 1 / 3),
}
_OPS = {"<=": lambda v, t: v <= t, ">=": lambda v, t: v >= t, ">": lambda v, t: v > t}


def load_results(paths: list[str | os.PathLike]) -> tuple[list[dict], list[str]]:
    """Results and commands from result files (one result, a list, or {"command", "results"})."""
    results, commands = [], []
    for p in paths:
        data = json.loads(Path(p).read_text(encoding="utf-8"))
        if isinstance(data, dict) and "results" in data:
            commands.append(data.get("command", ""))
            data = data["results"]
        for r in data if isinstance(data, list) else [data]:
            if not isinstance(r, dict) or "benchmark" not in r or "metrics" not in r:
                raise ValueError(f"{p} holds something that is not a benchmark result (needs benchmark, metrics)")
            results.append(r)
    return results, [c for c in commands if c]


def format_value(v: float) -> str:
    if v != v:  # NaN
        return "nan"
    return f"{v:.0f}" if float(v).is_integer() and abs(v) >= 1 else f"{v:.4g}"


def target_cells(benchmark: str, metric: str, value: float) -> tuple[str, str]:
    if (benchmark, metric) not in TARGETS:
        return "", ""
    op, t = TARGETS[(benchmark, metric)]
    return f"{op} {format_value(t)}", "yes" if _OPS[op](value, t) else "no"


def markdown_table(results: list[dict], commands: list[str] | None = None) -> str:
    lines = [f"Command: `{c}`" for c in commands or []]
    if lines:
        lines.append("")
    lines += ["| benchmark | metric | value | n | target | met |", "|---|---|---|---|---|---|"]
    for r in results:
        for metric, value in r["metrics"].items():
            target, met = target_cells(r["benchmark"], metric, value)
            lines.append(f"| {r['benchmark']} | {metric} | {format_value(value)} | {r.get('n_items', '')} | "
                         f"{target} | {met} |")
    return "\n".join(lines) + "\n"


def comparison_table(runs: dict[str, list[dict]]) -> str:
    """One column per run (e.g. with / without interleaving, the ablation), one row per metric."""
    names = list(runs)
    rows: dict[tuple[str, str], dict[str, float]] = {}
    for name, results in runs.items():
        for r in results:
            for metric, value in r["metrics"].items():
                rows.setdefault((r["benchmark"], metric), {})[name] = value
    lines = ["| benchmark | metric | " + " | ".join(names) + " | target |", "|---|---|" + "---|" * (len(names) + 1)]
    for (bench, metric), values in rows.items():
        cells = [format_value(values[n]) if n in values else "" for n in names]
        lines.append(f"| {bench} | {metric} | " + " | ".join(cells) + f" | {target_cells(bench, metric, 0.0)[0]} |")
    return "\n".join(lines) + "\n"


def report(paths: list[str | os.PathLike], compare: bool = False) -> str:
    """A table of all results (`compare`: one column per file, named by the file's stem)."""
    if not compare:
        results, commands = load_results(paths)
        return markdown_table(results, commands)
    runs, commands = {}, []
    for p in paths:
        results, cmds = load_results([p])
        runs[Path(p).stem] = results
        commands += [f"{Path(p).stem}: `{c}`" for c in cmds]
    return "\n".join(commands) + ("\n\n" if commands else "") + comparison_table(runs)


@dataclass(frozen=True)
class ReportConfig:
    paths: tuple[str, ...] = ()
    compare: bool = False

    @classmethod
    def preset(cls, name: str = "default", **overrides) -> ReportConfig:
        from .common import preset_of

        return preset_of(cls, {"default": cls(), "tiny": cls()}, name, overrides)


def run(config: ReportConfig) -> dict:
    if not config.paths:
        raise ValueError("the report needs at least one results file (spiritlm eval ... --out results.json)")
    return {"benchmark": "report", "markdown": report(list(config.paths), config.compare)}
