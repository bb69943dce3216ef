"""Static files storage that works before and after `manage.py collectstatic`.

WhiteNoise serves /static/ in every mode (settings.py). Before collectstatic has run there is no manifest: pages link
the plain names (admin/css/base.css), which WhiteNoise serves straight from the apps' folders through the finders, so
the demo needs no set-up step. Once it has run, pages link the hashed, compressed copies in STATIC_ROOT, which
WhiteNoise serves with far-future caching.
"""

from __future__ import annotations

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    manifest_strict = True  # a name missing from the manifest raises at once, without reading STATIC_ROOT

    def stored_name(self, name: str) -> str:
        try:
            return super().stored_name(name)
        except ValueError:
            # Not collected (no manifest yet, or a file added since): the plain name, served by the finders. Django's
            # non-strict fallback would instead hash whatever stale copy STATIC_ROOT may hold, or raise for none.
            return name
