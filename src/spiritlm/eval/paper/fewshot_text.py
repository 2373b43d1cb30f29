"""The two few-shot tasks with a text answer: MMLU (5-shot) and intent classification (30-shot).

* **MMLU** (Hendrycks et al.'s prompt, as the paper's 5-shot MMLU): a header
  `The following are multiple choice questions (with answers) about <subject>.` and five solved dev
  questions `Q\\nA. ..\\nB. ..\\nC. ..\\nD. ..\\nAnswer: X`, then the test question up to `Answer:`; the
  prediction is the letter whose tokens get the highest log-likelihood (full-vocabulary log-softmax).
  The letter's ids are those the tokenizer gives the prompt with the letter appended, past the prompt.
* **Intent** (SpeechPrompt v2 on Fluent Speech Commands, [P] App. B, T5): 30 blocks
  `[Speech]<sp>[Text] A:activate lights bedroom`, then `[Speech]<sp>[Text] A:`; greedy decoding
  until the LM leaves the text modality (a marker or a speech unit), EOS or 16 tokens; exact match
  of the stripped text with the label.
"""

from __future__ import annotations

from .releases import Question


def mmlu_prompt(shots: list[Question], q: Question) -> str:
    def block(x: Question, answer: bool) -> str:
        opts = "".join(f"\n{letter}. {c}" for letter, c in zip("ABCD", x.choices))
        return f"{x.question}{opts}\nAnswer:" + (f" {x.answer}\n\n" if answer else "")

    head = f"The following are multiple choice questions (with answers) about {q.subject.replace('_', ' ')}.\n\n"
    return head + "".join(block(s, True) for s in shots) + block(q, False)


def mmlu_choices(seg, shots: list[Question], q: Question) -> tuple[list[int], list[list[int]]]:
    prompt = mmlu_prompt(shots, q)
    ctx = seg.text(prompt)
    cands = []
    for letter in "ABCD":
        full = seg.text(prompt + " " + letter)
        cands.append(full[len(ctx):] if full[:len(ctx)] == ctx and len(full) > len(ctx) else seg.text(" " + letter))
    return seg.head() + [seg.marker("t")] + ctx, cands


def intent_prompt(seg, shots: list[tuple[list[int], str]], query: list[int]) -> list[int]:
    ids = seg.head()
    for units, label in shots:
        ids += [seg.marker("s")] + units + [seg.marker("t")] + seg.text(" A:" + label)
    return ids + [seg.marker("s")] + query + [seg.marker("t")] + seg.text(" A:")


def intent_predict(lm, seg, shots: list[tuple[list[int], str]], query: list[int], max_new: int = 16) -> str:
    import torch

    from .batched import cache_kwarg, output_cache

    kw = cache_kwarg(lm.model)
    ids = torch.tensor([intent_prompt(seg, shots, query)])
    tok = lm.tokenizer
    out: list[int] = []
    with torch.inference_mode():
        res = lm.model(input_ids=ids, use_cache=True)
        for _ in range(max_new):
            nxt = int(res.logits[0, -1].argmax())
            if nxt == tok.eos_id or lm.layout.token_of(nxt)[0] != "text":
                break
            out.append(nxt)
            res = lm.model(input_ids=torch.tensor([[nxt]]), use_cache=True, **{kw: output_cache(res)})
    return tok.decode_text(out).strip()
