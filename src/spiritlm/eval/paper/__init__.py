"""The paper's evaluation on the benchmarks' own releases ([P] §4, Tables 4, 5, 10).

`releases` reads the published layouts, `zerospeech` applies the ZeroSpeech 2021 scoring rules,
`batched` scores choices in padded batches with the shared context computed once, `fewshot_text`
holds MMLU and intent classification, `runner` is `spiritlm eval paper` (detection, resumable
per-item cache), `tables` writes the report beside the paper's numbers, `standins` builds synthetic
stand-ins of every release with our corpus engines (stand-ins, not the real sets).
"""
