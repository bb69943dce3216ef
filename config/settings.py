"""Yiju settings, read from environment variables.

Defaults are the embedded setting (SQLite, no broker, a local vLLM started on demand) so a bare machine runs it;
DATABASE_URL, CELERY_BROKER_URL and LLM_BASE_URL switch to PostgreSQL, Redis and an external vLLM.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("YIJU_DATA_DIR", BASE_DIR / "var")).resolve()


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in {"1", "true", "yes", "on"}


DEVELOPMENT_SECRET_KEY = "yiju-insecure-development-key-change-me"
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", DEVELOPMENT_SECRET_KEY)
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = [h for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",  # API keys: `manage.py drf_create_token USER`, sent as `Authorization: Bearer KEY`
    "drf_spectacular",  # OpenAPI schema at /api/schema/ (assistant/api_schema.py)
    "drf_spectacular_sidecar",  # Swagger UI and Redoc files served from here, not a CDN
    "ingestion",
    "retrieval",
    "assistant",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # /static/ in every mode: runserver with DEBUG off (the demo) has no static handler of its own, gunicorn none.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.security.SecurityHeadersMiddleware",
    "config.security.RequestSizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.database_outage.DatabaseOutageMiddleware",  # a lost database connection: 503 + Retry-After, not 500
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{DATA_DIR / 'yiju.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "0")),
        conn_health_checks=True,  # a persistent connection the server dropped is replaced, not used for one error
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # The in-process worker and the web process share the file; wait for a writer instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 30
    # A transaction that reads and then writes takes the write lock at its start: a deferred one asks to upgrade
    # midway, and SQLite refuses that at once ("database is locked", no waiting) while another writer holds the
    # file, which concurrent answers in an evaluation hit on a busy machine.
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]  # zh-hans catalogue: manage.py makemessages -l zh_Hans, then compilemessages
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Static files (the admin's CSS and JS, Swagger UI and Redoc) are served by WhiteNoise in every mode, straight from
# the apps' folders through the finders, so nothing has to be collected first. For production, `manage.py
# collectstatic` writes hashed, compressed copies here; pages then link those, cached for good
# (config/static_storage.py).
STATIC_ROOT = DATA_DIR / "static"
with contextlib.suppress(OSError):  # WhiteNoise warns on every start about a missing STATIC_ROOT
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "config.static_storage.StaticFilesStorage"},
}
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("YIJU_MEDIA_ROOT", DATA_DIR / "media"))
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.BasicAuthentication",
        "assistant.accounts.authentication.BearerTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Per user (anonymous callers per address, stricter); POSTs make the model write and have their own, lower
    # rate. Over a rate: 429 with Retry-After (assistant/accounts/throttling.py). Rates are N/s, N/m, N/h or N/d.
    "DEFAULT_THROTTLE_CLASSES": [
        "assistant.accounts.throttling.AnonThrottle",
        "assistant.accounts.throttling.UserThrottle",
        "assistant.accounts.throttling.GenerationThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("API_THROTTLE_ANON", "30/min"),
        "user": os.environ.get("API_THROTTLE_USER", "600/min"),
        "generation": os.environ.get("API_THROTTLE_GENERATION", "60/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Yiju API",
    "DESCRIPTION": "Answers, clinical reports and policy matches from an organisation's own documents, every "
    "statement citing the passage that supports it; and an OpenAI-compatible chat endpoint.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "PREPROCESSING_HOOKS": ["assistant.api_schema.endpoints_without_optional_slash"],
}
# Throttle counts and other shared state: Redis (redis://HOST:6379/N) when several processes serve the app, so that
# they count together; by default each process counts alone in memory.
if os.environ.get("CACHE_URL"):
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": os.environ["CACHE_URL"]}
    }

# --- Hardening. Always: no framing, no MIME sniffing, same-origin referrers, a Content-Security-Policy
# (config/security.py), cookies out of scripts' reach. DJANGO_HTTPS=1 (production, served over TLS): secure
# cookies, HSTS and redirects to HTTPS, and a DJANGO_SECRET_KEY must be set; DJANGO_TLS_PROXY=1 when a proxy
# terminates TLS and sets X-Forwarded-Proto (it must overwrite a client's own). `manage.py check --deploy` passes
# with both and DJANGO_ALLOWED_HOSTS (tests/assistant/test_hardening.py).
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True  # the pages send the token from the form, never read the cookie
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# The pages stream answers with inline scripts and styles (no build step, no external assets), so those may be
# inline but nothing loads from, posts to or frames from elsewhere. Redoc searches in a blob: worker. "" for none.
CONTENT_SECURITY_POLICY = os.environ.get(
    "CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
)
HTTPS = env_bool("DJANGO_HTTPS", False)
if HTTPS:
    if SECRET_KEY == DEVELOPMENT_SECRET_KEY:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("DJANGO_HTTPS=1 needs a DJANGO_SECRET_KEY (50+ random characters).")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", True)
    CSRF_TRUSTED_ORIGINS = [f"https://{host}" for host in ALLOWED_HOSTS if not host.startswith(".")]
if env_bool("DJANGO_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Celery: no broker configured means tasks run in-process through the same task code.
# In-process mode names the in-memory transport so nothing ever reaches for a broker on localhost by default.
CELERY_TASK_ALWAYS_EAGER = not os.environ.get("CELERY_BROKER_URL")
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or "memory://localhost/"
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# With late acks, a task whose worker died unacknowledged is handed out again after this long (Redis transport);
# a redelivered task whose first run is in fact still alive waits on the document's lease, so nothing runs twice.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "3600")),
    "unacked_restore_interval": int(os.environ.get("CELERY_RESTORE_INTERVAL", "10")),
    "unacked_restore_throttle": int(os.environ.get("CELERY_RESTORE_THROTTLE", "10")),
}

# --- Ingestion and retrieval
# Multilingual USE: Chinese, English and cross-language on a small CPU; chosen by measurement (bench/README.md).
EMBEDDING_MODEL = os.environ.get("EMBEDDING_MODEL", "use-multilingual-v3")
# Unset: the embedder picks by device (16 on CPU, where small batches pad less and run faster; 128 on a GPU).
EMBEDDING_BATCH_SIZE = int(os.environ["EMBEDDING_BATCH_SIZE"]) if os.environ.get("EMBEDDING_BATCH_SIZE") else None
INDEX_DIR = Path(os.environ.get("YIJU_INDEX_DIR", DATA_DIR / "index"))
# The vector index stays exact (flat) below this many vectors; past it one IVF model (HNSW coarse quantizer, PQ codes
# of d/4 bytes, trained on a sample) encodes segments of at least IVF_SEGMENT_MIN vectors, and shortlists of
# k x RERANK_FACTOR are re-scored exactly from memory-mapped float32 vectors (bench/README.md, "Search").
VECTOR_INDEX_IVF_THRESHOLD = int(os.environ.get("VECTOR_INDEX_IVF_THRESHOLD", "100000"))
VECTOR_INDEX_IVF_SEGMENT_MIN = int(os.environ.get("VECTOR_INDEX_IVF_SEGMENT_MIN", "4096"))
VECTOR_INDEX_NPROBE = int(os.environ.get("VECTOR_INDEX_NPROBE", "128"))
VECTOR_INDEX_RERANK_FACTOR = int(os.environ.get("VECTOR_INDEX_RERANK_FACTOR", "10"))
# A filter allowing at most this many chunks is searched exactly over just those: recall never drops for a small share.
VECTOR_INDEX_EXACT_FILTER_MAX = int(os.environ.get("VECTOR_INDEX_EXACT_FILTER_MAX", "20000"))
VECTOR_INDEX_RETRAIN_FACTOR = int(os.environ.get("VECTOR_INDEX_RETRAIN_FACTOR", "8"))
VECTOR_INDEX_SEARCH_THREADS = int(os.environ.get("VECTOR_INDEX_SEARCH_THREADS", "1"))
# Where search runs: "embedded" (the FAISS segments above and in-process BM25, on this machine's disk) or
# "milvus://HOST:PORT" (one Milvus shared by every web process and worker; ingestion writes through to it).
SEARCH_ENGINE = os.environ.get("SEARCH_ENGINE", "embedded")
MILVUS_COLLECTION_PREFIX = os.environ.get("MILVUS_COLLECTION_PREFIX", "yiju_chunks")
# Splits the app's own BM25 terms on spaces: "standard" on Milvus Lite; {"tokenizer": "whitespace"} on Milvus itself.
MILVUS_TERMS_ANALYZER = os.environ.get("MILVUS_TERMS_ANALYZER", '{"tokenizer": "standard"}')
MILVUS_HNSW_EF = int(os.environ.get("MILVUS_HNSW_EF", "256"))  # HNSW's search breadth: recall against speed
CHUNK_MAX_CHARS = int(os.environ.get("CHUNK_MAX_CHARS", "800"))
CHUNK_OVERLAP_CHARS = int(os.environ.get("CHUNK_OVERLAP_CHARS", "100"))
UPLOAD_MAX_BYTES = int(os.environ.get("UPLOAD_MAX_BYTES", str(200 * 1024 * 1024)))
# One request (all its files together) over this is refused with 413 before its body is read, or as soon as it
# streams past it; a file past UPLOAD_MAX_BYTES stops being stored there (config/security.py).
UPLOAD_REQUEST_MAX_BYTES = int(os.environ.get("UPLOAD_REQUEST_MAX_BYTES", str(2 * 1024 * 1024 * 1024)))
FILE_UPLOAD_HANDLERS = [
    "config.security.UploadLimitHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# Django refuses more than 100 files in one request by default; a document set is often more.
DATA_UPLOAD_MAX_NUMBER_FILES = int(os.environ.get("DATA_UPLOAD_MAX_NUMBER_FILES", "5000"))
# Zip archives: what one upload may expand to, so a zip bomb fails instead of filling the disk.
ZIP_MAX_ENTRIES = int(os.environ.get("ZIP_MAX_ENTRIES", "20000"))
ZIP_MAX_TOTAL_BYTES = int(os.environ.get("ZIP_MAX_TOTAL_BYTES", str(4 * 1024 * 1024 * 1024)))
ZIP_MAX_RATIO = int(os.environ.get("ZIP_MAX_RATIO", "200"))  # uncompressed / compressed size of one entry
# A run holds its document this long without renewing; a worker killed mid-document frees it when it expires.
INGEST_LEASE_SECONDS = int(os.environ.get("INGEST_LEASE_SECONDS", "300"))
INGEST_COMMIT_CHUNKS = int(os.environ.get("INGEST_COMMIT_CHUNKS", "256"))  # vectors stored per progress step
OCR_LANGUAGES = os.environ.get("OCR_LANGUAGES", "chi_sim+eng")
OCR_TESSERACT_CMD = os.environ.get("OCR_TESSERACT_CMD", "tesseract")
RETRIEVAL_TOP_K = int(os.environ.get("RETRIEVAL_TOP_K", "5"))
RETRIEVAL_CANDIDATES = int(os.environ.get("RETRIEVAL_CANDIDATES", "50"))
# How the dense and lexical rankings are fused ("score": normalised score fusion, or "rrf") and the dense share of
# the weight; chosen by measurement on a development split (bench/README.md, "Retrieval").
RETRIEVAL_FUSION = os.environ.get("RETRIEVAL_FUSION", "score")
RETRIEVAL_DENSE_WEIGHT = float(os.environ.get("RETRIEVAL_DENSE_WEIGHT", "0.2"))
# "" for none, "embedding:MODEL" (a second embedder re-scores), or a local cross-encoder folder on GPU hosts.
RETRIEVAL_RERANKER = os.environ.get("RETRIEVAL_RERANKER", "")
RETRIEVAL_RERANK_DEPTH = int(os.environ.get("RETRIEVAL_RERANK_DEPTH", "30"))
RETRIEVAL_RERANK_WEIGHT = float(os.environ.get("RETRIEVAL_RERANK_WEIGHT", "1.0"))

# --- Generation: any OpenAI-compatible server; none configured means a local vLLM CPU server.
LLM_BASE_URL = os.environ.get("LLM_BASE_URL", "")
LLM_MODEL = os.environ.get("LLM_MODEL", "")
LLM_API_KEY = os.environ.get("LLM_API_KEY", "EMPTY")
LLM_TIMEOUT_S = float(os.environ.get("LLM_TIMEOUT_S", "300"))
LOCAL_LLM_MODEL = os.environ.get("LOCAL_LLM_MODEL", "qwen2.5-coder-0.5b-instruct")
# The small local model (started here, or shared through serve_llm) gets its own defaults; any other is taken for R1.
LOCAL_LLM_IN_USE = not LLM_BASE_URL or LLM_MODEL == LOCAL_LLM_MODEL
# 0.6 is what DeepSeek-R1's authors recommend; the small local instruct model strays less when nearly greedy.
LLM_TEMPERATURE = float(os.environ.get("LLM_TEMPERATURE", "0.1" if LOCAL_LLM_IN_USE else "0.6"))
LLM_MAX_TOKENS = int(os.environ.get("LLM_MAX_TOKENS", "512"))
# How the model reasons (grounding/llm/generation.py): "native" (DeepSeek-R1; vLLM --reasoning-parser deepseek_r1),
# "prompted" (asked to think first, for models without a reasoning mode) or "off"; "auto": off for the local
# models (measured: prompted reasoning lost quality and time there), native for any other.
LLM_REASONING = os.environ.get("LLM_REASONING", "auto")
# Most reasoning tokens per answer, so latency targets can be met (0: prompted reasoning off); unset: 96 for the
# local model (about 5 s here), 400 for R1 (about 1.8 s on an H100: see assistant/grounding/llm/generation.py).
LLM_REASONING_BUDGET = int(os.environ["LLM_REASONING_BUDGET"]) if os.environ.get("LLM_REASONING_BUDGET") else None
# Pass the budget to vLLM as `thinking_token_budget` (needs the server started with --reasoning-config).
LLM_SERVER_THINKING_BUDGET = os.environ.get("LLM_SERVER_THINKING_BUDGET", "") == "1"
# Constrain the answer to the JSON schema (response_format); servers that refuse it are asked again without.
LLM_GUIDED_JSON = os.environ.get("LLM_GUIDED_JSON", "1") == "1"
# Statements no passage supports: "mark" keeps them in the answer, flagged; "remove" leaves them out of it.
ANSWER_UNSUPPORTED = os.environ.get("ANSWER_UNSUPPORTED", "mark")
# A citation holds where grounding/support.py scores the statement against the quoted sentences at least this; 0.40
# is calibrated on cpgQA, PubMedQA and LeCoQA pairs by bench/support_calibration.py (bench/README.md).
CITATION_SUPPORT_THRESHOLD = float(os.environ.get("CITATION_SUPPORT_THRESHOLD", "0.40"))
# A supported statement whose similarity to the question (assistant/grounding/relevance.py) is below this does not
# answer it and is marked "not about the question"; 0 turns the check off. Chosen by bench/relevance.py.
ANSWER_RELEVANCE_THRESHOLD = float(os.environ.get("ANSWER_RELEVANCE_THRESHOLD", "0"))
# Policy matching asks the model about this many candidate policies at once (vLLM batches concurrent requests).
POLICY_CONCURRENCY = int(os.environ.get("POLICY_CONCURRENCY", "3"))
# Generations sent to the model server at once (across processes through Redis when the broker is Redis; 0: no
# limit); more wait in line, told how many are ahead, for at most LLM_QUEUE_TIMEOUT_S (grounding/llm/slots.py).
LLM_MAX_CONCURRENT = int(os.environ.get("LLM_MAX_CONCURRENT", "8"))
LLM_QUEUE_TIMEOUT_S = float(os.environ.get("LLM_QUEUE_TIMEOUT_S", "600"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}
