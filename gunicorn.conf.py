"""gunicorn settings for the web process: `gunicorn -c gunicorn.conf.py` (see Procfile).

The access log keeps paths but never query strings, whose `?to=+1555…` filters would write fax
numbers (PHI) to the logs: the format has no `%(r)s` or `%(q)s`, and QueryFreeLogger cleans
every atom (the Referer too) in case the format is changed.
"""

import os

wsgi_app = "sendfaxmail.wsgi"
workers = 4
# Threads per worker, from WEB_THREADS. 1 (the default) runs sync workers: each request runs in
# its worker's main thread, where the app's SIGALRM deadline (API_REQUEST_TIMEOUT) can stop it,
# and each connection is closed after one request. More runs gthread workers: connections stay
# open between requests (bench/auth.py on 2 loaded cores: /healthz p50 about 4x lower), and a
# worker answers another request while one waits on PostgreSQL or Redis, but a request in a
# thread cannot be stopped at API_REQUEST_TIMEOUT, and gunicorn's `timeout` only watches the
# worker's main loop: a stuck request holds its thread until it ends. Each thread keeps its own
# database connection (CONN_MAX_AGE), so PostgreSQL sees workers × threads connections.
threads = int(os.environ.get("WEB_THREADS", "1"))
worker_class = "gthread" if threads > 1 else "sync"
# A worker silent for this long is killed and its client gets no answer. The app stops its own
# /v1 work earlier, at API_REQUEST_TIMEOUT (50 s by default), and answers 503 `timeout`.
timeout = 60
accesslog = "-"
# gunicorn's default format, with the request line rebuilt from method and path, the time
# taken in milliseconds, and the answer's Request-Id (to find the app's lines about it).
access_log_format = (
    '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms '
    "%({request-id}o)s"
)
logger_class = "sendfaxmail.lib.accesslog.QueryFreeLogger"
