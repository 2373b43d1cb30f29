"""Text sentiment with VADER (rule-based, lexicon bundled in the `vadersentiment` package, no model download).

VADER's compound score is a normalised sum of word valences in [-1, 1]; the conventional thresholds
(compound >= 0.05 positive, <= -0.05 negative, else neutral) give the label. The analyzer is created
once per `SentimentScorer` and reused.
"""

from __future__ import annotations

from ..corpus.manifest import Sentiment

POSITIVE_AT = 0.05
NEGATIVE_AT = -0.05


def label_for(compound: float) -> str:
    if compound >= POSITIVE_AT:
        return "positive"
    if compound <= NEGATIVE_AT:
        return "negative"
    return "neutral"


class SentimentScorer:
    def __init__(self) -> None:
        try:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
        except ImportError as e:
            raise ImportError("sentiment needs the `vadersentiment` package: pip install 'spiritlm[data]'") from e
        self._vader = SentimentIntensityAnalyzer()

    def __call__(self, text: str) -> Sentiment:
        compound = round(float(self._vader.polarity_scores(text)["compound"]), 4)
        return Sentiment(label_for(compound), compound)
