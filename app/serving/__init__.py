"""gunicorn's side: what gunicorn.conf.py installs in the master before it forks (JSON for
the requests gunicorn refuses itself, a logger without gunicorn's access-log work)."""
