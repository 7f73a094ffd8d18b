"""gunicorn settings for production: ``cd backend && gunicorn -c gunicorn.conf.py app:app``.

Worker class gthread (threads in each worker process), chosen by measurement; see the
production section of docs/operations.md for the numbers against gevent and sync. Every value can be
overridden on the command line or with gunicorn's GUNICORN_CMD_ARGS.
"""

import multiprocessing
import os

# Where to listen: PORT/HOST as most platforms set them (Elastic Beanstalk sets PORT).
bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"  # noqa: S104

# One worker process per core: the GIL lets one thread run Python at a time, so more
# processes than cores only adds memory. Threads per worker cover the time each request
# waits on DynamoDB (most of it); 8 keeps a core busy at ~5 ms of CPU per request.
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
threads = int(os.environ.get("GUNICORN_THREADS", "8"))

# boto3's connection pool per worker matches its threads, so no thread waits for one.
os.environ.setdefault("DYNAMODB_MAX_POOL_CONNECTIONS", str(threads))
os.environ.setdefault("LOG_FORMAT", "json")

# Graceful shutdown: on SIGTERM, workers finish requests in flight for up to 30 s.
graceful_timeout = 30
timeout = 30  # a request stuck longer than this gets its worker restarted
keepalive = 5  # behind a load balancer that keeps connections open (ALB idle 60 s)

# Each worker builds its own app and boto3 client after the fork (clients are not
# fork-safe), which also lets a worker that crashed come back cleanly.
preload_app = False

# Our app writes one JSON line per request itself; gunicorn's own access log would
# repeat it as text. gunicorn's error log goes to stderr.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()

# Limits on what a client can send before the app sees it.
limit_request_line = 8190
limit_request_fields = 100
