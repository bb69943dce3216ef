"""manage.py prepare_model: join, verify and convert the packaged local model once (idempotent)."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from assistant.grounding.llm.local_model import local_model_prepare


class Command(BaseCommand):
    help = "Prepare the local model that vLLM CPU serves when LLM_BASE_URL is not set."

    def handle(self, *args: object, **options: object) -> None:
        if settings.LLM_BASE_URL:
            self.stdout.write(f"LLM_BASE_URL is set ({settings.LLM_BASE_URL}); no local model needed.")
            return
        path = local_model_prepare(data_dir=settings.DATA_DIR, model_key=settings.LOCAL_LLM_MODEL,
                                   progress=lambda message: self.stdout.write(f"  {message}"))
        self.stdout.write(f"local model ready: {path}")
