"""Text from a character-level language model: sampling one character at a time at a temperature."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pipeline.datasets import vocabulary as vocab

TEMPERATURES = (0.2, 0.5, 1.0)  # low: safe and repetitive; 1.0: the model's own distribution
SAMPLE_LENGTH = 300  # characters per sample


def reweight(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """p ** (1 / temperature), renormalised: sharper below 1, flatter above."""
    logits = np.log(np.clip(probabilities.astype(np.float64), 1e-12, 1.0)) / temperature
    weights = np.exp(logits - logits.max())
    return weights / weights.sum()


def generate(
    predict: Any,
    seed_ids: np.ndarray,
    vocabulary: Sequence[str],
    *,
    temperature: float,
    length: int,
    seed: int,
) -> str:
    """`length` characters after `seed_ids` (one window of ids); `predict(batch) -> probabilities`.

    Padding and unknown ids are never drawn, so the text holds only real characters.
    """
    rng = np.random.default_rng(seed)
    window = np.array(seed_ids, dtype=np.int32)
    drawn = []
    for _ in range(length):
        probabilities = np.array(predict(window[np.newaxis])[0], dtype=np.float64)  # a writable copy
        probabilities[[vocab.PAD_ID, vocab.UNKNOWN_ID]] = 0.0
        next_id = int(rng.choice(len(probabilities), p=reweight(probabilities, temperature)))
        drawn.append(next_id)
        window = np.append(window[1:], next_id)
    return "".join(vocabulary[i] for i in drawn)


def samples_text(model: Any, seed_ids: np.ndarray, vocabulary: Sequence[str], *, seed: int) -> str:
    """Samples at each of TEMPERATURES after the same prompt, as one readable text."""

    def predict(batch: np.ndarray) -> np.ndarray:
        return np.asarray(model.predict_on_batch(batch))  # a compiled step: ~100x faster than model(batch)

    prompt = "".join(vocabulary[i] for i in seed_ids if i > vocab.UNKNOWN_ID)
    parts = [f"prompt: {prompt!r}"]
    for temperature in TEMPERATURES:
        text = generate(
            predict, seed_ids, vocabulary, temperature=temperature, length=SAMPLE_LENGTH, seed=seed
        )
        parts.append(f"--- temperature {temperature} ---\n{prompt}{text}")
    return "\n\n".join(parts) + "\n"
