"""The request body's schema for OpenAPI (documentation only: `requests.parse_request` validates, so that the
error messages and limits are the same for every entry point)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class TextInput(BaseModel):
    type: Literal["text"]
    text: str


class SpeechInput(BaseModel):
    type: Literal["speech"]
    audio: str | None = Field(None, description="base64 of a wav/flac/ogg file (any rate; resampled to 16 kHz)")
    units: str | None = Field(None, description="a unit string like '[Hu12][Pi3][Hu7]'; give audio or units")


class GenerateBody(BaseModel):
    inputs: list[TextInput | SpeechInput] | None = Field(None, description="the prompt pieces, in order")
    prompt: str | None = Field(None, description="instead of inputs: a token string like '[Text]The cat[Speech]'")
    output_modality: Literal["text", "speech", "arbitrary"] = "arbitrary"
    max_new_tokens: int = Field(200, ge=1, le=4096)
    do_sample: bool = Field(True, description="false: greedy decoding (then temperature/top_p/top_k/seed are refused)")
    temperature: float | None = Field(None, gt=0, le=100)
    top_p: float | None = Field(None, gt=0, le=1)
    top_k: int | None = Field(None, ge=0)
    repetition_penalty: float | None = Field(None, gt=0, le=100)
    seed: int | None = Field(None, ge=0, description="a seeded request runs alone, reproducibly")
    speaker_id: int | None = Field(None, ge=0)
    return_audio: bool = Field(True, description="/v1/generate: include base64 wavs of speech outputs")


def _inline(schema: dict) -> dict:
    """A pydantic schema with its `$defs` references replaced by their definitions (self-contained for OpenAPI)."""
    defs = schema.pop("$defs", {})

    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node:
                return walk(dict(defs[node["$ref"].rsplit("/", 1)[-1]]))
            return {k: walk(v) for k, v in node.items()}
        return [walk(v) for v in node] if isinstance(node, list) else node

    return walk(schema)


GENERATE_OPENAPI = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": _inline(GenerateBody.model_json_schema())}}}}
