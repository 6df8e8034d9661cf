"""modality: image input → vision models; an image-generation request → image-output models."""

from __future__ import annotations

from core.errors import RoutingError
from models.registry import ModelEntry
from routers.record import RouteRecord
from routers.request import RouteRequest

__all__ = ["ModalityPolicy"]


class ModalityPolicy:
    name = "modality"

    def apply(self, request: RouteRequest, candidates: list[ModelEntry], record: RouteRecord) -> list[ModelEntry]:
        if request.image_generation:
            kept = [e for e in candidates if "image" in e.spec.modalities.output]
            if not kept:
                raise RoutingError("no available model generates images; add one to config/models.yaml with "
                                   "provider: openai and modalities: {output: [image]} (an /v1/images/generations API)")
            record.note(self.name, f"image generation → {len(kept)} image-output model(s)")
            return kept
        text_out = [e for e in candidates if "text" in e.spec.modalities.output]
        if not request.has_image:
            return text_out
        kept = [e for e in text_out if "image" in e.spec.modalities.input]
        if not kept:
            raise RoutingError("the request contains an image but no available model accepts image input; add "
                               "one to config/models.yaml with modalities: {input: [text, image]}")
        record.note(self.name, f"image input → vision models ({', '.join(e.spec.name for e in kept)})")
        return kept
