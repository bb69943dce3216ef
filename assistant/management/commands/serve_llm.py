"""manage.py serve_llm: run the local vLLM CPU server in the foreground for web and worker processes to share."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand

from assistant.grounding.llm.client import exit_on_sigterm, llm_endpoint, local_server_stop


class Command(BaseCommand):
    help = "Start the local vLLM CPU server and keep it running (Ctrl-C stops it)."

    def handle(self, *args: object, **options: object) -> None:
        exit_on_sigterm()
        endpoint = llm_endpoint()
        self.stdout.write(f"serving {endpoint.model}\nuse: LLM_BASE_URL={endpoint.base_url} LLM_MODEL={endpoint.model}")
        if settings.LLM_BASE_URL:
            return
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            local_server_stop()
