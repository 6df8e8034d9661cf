"""modality: image input → vision models; an image-generation request → image-output models."""

from __future__ import annotations

from core.errors import RoutingError
from models.registry import ModelEntry
from routers.record import RouteRecord
from routers.request import RouteRequest

__all__ = ["ModalityPolicy"]


class ModalityPolicy:
    name = "modality"

    def __init__(self) -> None:
        self._text_out: tuple[list[ModelEntry], list[ModelEntry]] | None = None

    def _text_models(self, candidates: list[ModelEntry]) -> list[ModelEntry]:
        """Text-output models; cached for the router's snapshot list (the common, hot case)."""
        if self._text_out is not None and self._text_out[0] is candidates:
            return self._text_out[1]
        kept = [e for e in candidates if "text" in e.spec.modalities.output]
        self._text_out = (candidates, kept)
        return kept

    def apply(self, request: RouteRequest, candidates: list[ModelEntry], record: RouteRecord) -> list[ModelEntry]:
        if request.image_generation:
            kept = [e for e in candidates if "image" in e.spec.modalities.output]
            if not kept:
                raise RoutingError(
                    "no available model generates images; add one to config/models.yaml with "
                    "provider: openai and modalities: {output: [image]} (an /v1/images/generations API)"
                )
            record.note(self.name, f"image generation → {len(kept)} image-output model(s)")
            return kept
        text_out = self._text_models(candidates)
        if not request.has_image:
            return text_out
        kept = [e for e in text_out if "image" in e.spec.modalities.input]
        if not kept:
            raise RoutingError(
                "the request contains an image but no available model accepts image input; add "
                "one to config/models.yaml with modalities: {input: [text, image]}"
            )
        record.note(self.name, f"image input → vision models ({', '.join(e.spec.name for e in kept)})")
        return kept
