"""Test settings: the production services for real (PostgreSQL unless DATABASE_URL says otherwise)."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/yiju")

from config.settings import *  # noqa: F403
from config.settings import DATA_DIR

# Tests keep their index and uploads apart from the demo's.
INDEX_DIR = DATA_DIR / "test" / "index"
MEDIA_ROOT = DATA_DIR / "test" / "media"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
