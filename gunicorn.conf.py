"""gunicorn settings for the web process: `gunicorn -c gunicorn.conf.py` (see Procfile).

The access log keeps paths but never query strings, whose `?to=+1555…` filters would write fax
numbers (PHI) to the logs: the format has no `%(r)s` or `%(q)s`, and QueryFreeLogger cleans
every atom (the Referer too) in case the format is changed.
"""

wsgi_app = "sendfaxmail.wsgi"
workers = 4
# A worker silent for this long is killed and its client gets no answer. The app stops its own
# /v1 work earlier, at API_REQUEST_TIMEOUT (50 s by default), and answers 503 `timeout`.
timeout = 60
accesslog = "-"
# gunicorn's default format, with the request line rebuilt from method and path, and the time
# taken in milliseconds.
access_log_format = (
    '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms'
)
logger_class = "sendfaxmail.lib.accesslog.QueryFreeLogger"
