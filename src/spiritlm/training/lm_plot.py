"""Loss curves of an LM run: `metrics.jsonl` -> `curves.csv` + `curves.svg` (+ `curves.png`).

The trainer appends one JSON object per logged step (``{"step", "loss", "lr", ...}``) and per
evaluation (``{"step", "eval": {"text": 3.1, "speech": 4.2, ...}}``). The SVG is written by hand
(a few polylines, no dependency); a PNG is added when matplotlib happens to be installed.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

logger = logging.getLogger(__name__)

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
Curves = dict[str, list[tuple[int, float]]]


def read_curves(metrics_file: Path) -> Curves:
    """{"train": [(step, loss)], "eval/<kind>": [(step, loss)], ...} from a metrics file."""
    curves: Curves = {}
    for line in Path(metrics_file).read_text().splitlines():
        if not line.strip():
            continue
        rec = json.loads(line)
        if "loss" in rec:
            curves.setdefault("train", []).append((rec["step"], rec["loss"]))
        for kind, value in (rec.get("eval") or {}).items():
            curves.setdefault(f"eval/{kind}", []).append((rec["step"], value))
    return curves


def write_csv(curves: Curves, path: Path) -> None:
    rows = ["curve,step,loss"] + [f"{name},{s},{v:.6f}" for name, pts in curves.items() for s, v in pts]
    path.write_text("\n".join(rows) + "\n")


def svg_plot(curves: Curves, title: str = "loss", width: int = 640, height: int = 400) -> str:
    """A line chart of every curve on shared axes, as an SVG document."""
    pts = [p for c in curves.values() for p in c]
    if not pts:
        return f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"></svg>\n'
    x0, x1 = min(p[0] for p in pts), max(p[0] for p in pts)
    y0, y1 = min(p[1] for p in pts), max(p[1] for p in pts)
    x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1e-6)
    left, right, top, bottom = 60, 150, 30, 40
    w, h = width - left - right, height - top - bottom

    def xy(s: float, v: float) -> str:
        return f"{left + (s - x0) / (x1 - x0) * w:.1f},{top + (1 - (v - y0) / (y1 - y0)) * h:.1f}"

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
           f'font-size="12"><rect width="100%" height="100%" fill="white"/>',
           f'<text x="{left}" y="18">{title}</text>',
           f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="none" stroke="#888"/>',
           f'<text x="{left - 5}" y="{top + 4}" text-anchor="end">{y1:.3g}</text>',
           f'<text x="{left - 5}" y="{top + h}" text-anchor="end">{y0:.3g}</text>',
           f'<text x="{left}" y="{top + h + 16}" text-anchor="middle">{x0}</text>',
           f'<text x="{left + w}" y="{top + h + 16}" text-anchor="middle">{x1}</text>',
           f'<text x="{left + w / 2}" y="{top + h + 32}" text-anchor="middle">step</text>']
    for i, (name, c) in enumerate(sorted(curves.items())):
        color = COLORS[i % len(COLORS)]
        out.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5" '
                   f'points="{" ".join(xy(s, v) for s, v in c)}"/>')
        out.append(f'<text x="{left + w + 10}" y="{top + 14 + 16 * i}" fill="{color}">{name}</text>')
    return "\n".join(out) + "\n</svg>\n"


def plot_run(out_dir: Path) -> Path | None:
    """Write curves.csv / curves.svg (and curves.png with matplotlib) next to metrics.jsonl."""
    metrics = Path(out_dir) / "metrics.jsonl"
    if not metrics.is_file():
        return None
    curves = read_curves(metrics)
    write_csv(curves, metrics.with_name("curves.csv"))
    svg = metrics.with_name("curves.svg")
    svg.write_text(svg_plot(curves, title=f"{Path(out_dir).name}: loss"))
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return svg
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, c in sorted(curves.items()):
        ax.plot([s for s, _ in c], [v for _, v in c], label=name)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend()
    fig.savefig(metrics.with_name("curves.png"), dpi=100)
    plt.close(fig)
    return svg
