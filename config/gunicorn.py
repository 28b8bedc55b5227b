"""gunicorn settings: ``gunicorn -c config/gunicorn.py 'app:create_app()'``.

gunicorn reads its own GUNICORN_CMD_ARGS and flags; these are defaults.
"""

import multiprocessing

bind = "127.0.0.1:8080"
workers = max(2, multiprocessing.cpu_count())
threads = 4
worker_class = "gthread"
timeout = 30
graceful_timeout = 20
accesslog = "-"
errorlog = "-"
# Each worker builds its own pools after the fork.
preload_app = False
