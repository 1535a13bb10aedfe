"""Settings of bench/ingest.py's servers: the product's, plus the reference view.

The reference (``POST /bench/insert/``) is served by the same settings,
middleware and gunicorn as the webhook; it is no part of the product's URLs.
"""

from config.settings.base import *  # noqa: F403

ROOT_URLCONF = "bench.ingest_urls"
