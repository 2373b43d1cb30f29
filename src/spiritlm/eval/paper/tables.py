"""The report of `spiritlm eval paper`, laid out as the paper's tables, with its numbers beside ours.

* Table 4 (zero-shot comprehension, token-normalised accuracy, %): WUG T/S, BLI T/S, tSC and sSC in
  the four directions, MMLU (5-shot);
* Table 10 (raw / token-normalised accuracy, the same columns without MMLU);
* Table 5 (few-shot): LibriSpeech ASR %WER (10-shot) and intent accuracy (30-shot). TTS %CER and
  STSP (Table 3) are not run by this command (see `spiritlm eval tts|stsp`) and show as "-".

Paper rows are [P] Tables 4, 5 and 10 (Spirit LM Base and Expressive, 7B). `directions.svg` draws
the StoryCloze accuracy per direction, ours against the paper's, as a hand-written SVG (no plotting
library is needed).
"""

from __future__ import annotations

import json
from pathlib import Path

COLUMNS = ("WUG T", "WUG S", "BLI T", "BLI S", "tSC T", "tSC S", "tSC T→S", "tSC S→T",
           "sSC T", "sSC S", "sSC T→S", "sSC S→T", "MMLU")
PAPER_T4 = {
    "Spirit LM Base (paper)": (80.3, 69.0, 73.3, 58.3, 98.0, 82.9, 72.7, 88.6, 79.4, 61.0, 59.5, 64.6, 36.9),
    "Spirit LM Expressive (paper)": (75.8, 65.0, 73.6, 54.2, 97.9, 75.4, 61.6, 73.2, 78.9, 56.9, 54.6, 58.8, 33.3),
}
PAPER_T10_RAW = {
    "Spirit LM Base (paper)": (95.1, 71.4, 75.7, 63.2, 94.5, 69.2, 66.6, 83.8, 76.6, 56.2, 56.2, 64.3),
    "Spirit LM Expressive (paper)": (95.2, 66.2, 76.6, 58.7, 94.3, 58.2, 57.7, 81.3, 75.7, 51.8, 52.5, 61.4),
}
PAPER_T5 = {"Spirit LM Base (paper)": (21.9, 45.5, 29.2, 43.8, 71.9),
            "Spirit LM Expressive (paper)": (37.9, 52.0, 50.0, 53.6, 66.2)}
T5_COLUMNS = ("LS-clean ASR %WER", "LS-clean TTS %CER", "LS-other ASR %WER", "LS-other TTS %CER", "intent %")
ARROW = {"T": "T", "S": "S", "T2S": "T→S", "S2T": "S→T"}


def our_cells(results: dict, norm: str = "token") -> dict[str, float]:
    """Column -> our accuracy in % for the benchmarks that ran."""
    b = results["benchmarks"]
    cells: dict[str, float] = {}
    for name, col in (("swuggy", "WUG"), ("sblimp", "BLI")):
        for mod in ("T", "S"):
            if name in b:
                cells[f"{col} {mod}"] = 100 * b[name][mod][norm]["all"]
    for name, col in (("tsc", "tSC"), ("ssc", "sSC")):
        for d, arrow in ARROW.items():
            if name in b:
                cells[f"{col} {arrow}"] = 100 * b[name][d][norm]
    if "mmlu" in b:
        cells["MMLU"] = 100 * b["mmlu"]["acc"]
    return cells


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"


def _table(columns, rows: dict[str, list[str]]) -> list[str]:
    lines = ["| model | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    return lines + [f"| {name} | " + " | ".join(cells) + " |" for name, cells in rows.items()]


def markdown(results: dict) -> str:
    ours, raw = our_cells(results, "token"), our_cells(results, "raw")
    me = f"ours: {Path(results['model']).name}"
    t4 = {me: [_fmt(ours.get(c)) for c in COLUMNS]} | {k: [_fmt(v) for v in vals] for k, vals in PAPER_T4.items()}
    t10 = {me: [f"{_fmt(raw.get(c))}/{_fmt(ours.get(c))}" for c in COLUMNS[:-1]]}
    t10 |= {k: [f"{_fmt(r)}/{_fmt(t)}" for r, t in zip(PAPER_T10_RAW[k], PAPER_T4[k])] for k in PAPER_T10_RAW}
    b = results["benchmarks"]
    intent = _fmt(100 * b["intent"]["acc"]) if "intent" in b else "-"
    asr = {k: _fmt(100 * b[k]["wer"]) if k in b else "-" for k in ("ls-clean-asr", "ls-other-asr")}
    t5 = {me: [asr["ls-clean-asr"], "-", asr["ls-other-asr"], "-", intent]}
    t5 |= {k: [_fmt(v) for v in vals] for k, vals in PAPER_T5.items()}
    out = [f"# Paper evaluation: {me}", "",
           f"Data root `{results['data_root']}`, sLM21 split `{results['split']}`, limit {results['limit']} items "
           "per benchmark. Accuracies in %; '-' = not run.", "",
           "## Table 4: zero-shot comprehension (token-normalised accuracy; MMLU 5-shot)", "",
           *_table(COLUMNS, t4), "", "## Table 10: raw / token-normalised accuracy", "",
           *_table(COLUMNS[:-1], t10), "", "## Table 5: few-shot tasks", "", *_table(T5_COLUMNS, t5), "",
           "## Breakdowns", ""]
    for name in ("swuggy", "sblimp"):
        if name in b:
            for mod in ("T", "S"):
                parts = ", ".join(f"{k} {100 * v:.1f}" for k, v in b[name][mod]["token"].items() if v == v)
                out.append(f"- {name} {mod} ({b[name][mod]['n_pairs']} pairs, token-normalised): {parts}")
    for name in ("tsc", "ssc", "mmlu", "intent", "ls-clean-asr", "ls-other-asr"):
        if name in b:
            n = b[name]["n"] if "n" in b[name] else b[name]["T"]["n"]
            out.append(f"- {name}: {n} items")
    return "\n".join(out) + "\n"


def svg(results: dict) -> str:
    """Grouped bars: StoryCloze accuracy per direction, ours vs Spirit LM Base (paper)."""
    ours = our_cells(results)
    cols = [c for c in COLUMNS if c.startswith(("tSC", "sSC"))]
    base = dict(zip(COLUMNS, PAPER_T4["Spirit LM Base (paper)"]))
    w, h, left, bottom = 640, 300, 40, 250
    step = (w - left - 10) / len(cols)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
             'font-family="sans-serif" font-size="10">',
             f'<line x1="{left}" y1="{bottom}" x2="{w - 10}" y2="{bottom}" stroke="black"/>',
             f'<line x1="{left}" y1="{bottom - 100}" x2="{w - 10}" y2="{bottom - 100}" stroke="#ccc"/>',
             f'<text x="2" y="{bottom - 97}">50%</text>', f'<text x="2" y="{bottom - 197}">100%</text>',
             f'<line x1="{left}" y1="{bottom - 200}" x2="{w - 10}" y2="{bottom - 200}" stroke="#ccc"/>']
    for i, c in enumerate(cols):
        x = left + i * step + 4
        for j, (val, color) in enumerate(((ours.get(c), "#1f77b4"), (base[c], "#bbbbbb"))):
            if val is not None:
                parts.append(f'<rect x="{x + j * step * 0.4:.1f}" y="{bottom - 2 * val:.1f}" width="{step * 0.38:.1f}" '
                             f'height="{2 * val:.1f}" fill="{color}"><title>{c}: {val:.1f}</title></rect>')
        parts.append(f'<text x="{x:.1f}" y="{bottom + 14}">{c}</text>')
    parts += [f'<rect x="{left}" y="8" width="10" height="10" fill="#1f77b4"/><text x="{left + 14}" y="17">ours</text>',
              f'<rect x="{left + 60}" y="8" width="10" height="10" fill="#bbbbbb"/>'
              f'<text x="{left + 74}" y="17">Spirit LM Base (paper)</text>', "</svg>"]
    return "\n".join(parts) + "\n"


def write_report(results: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2))
    (out / "report.md").write_text(markdown(results))
    (out / "directions.svg").write_text(svg(results))
