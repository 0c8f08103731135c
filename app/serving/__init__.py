"""gunicorn's side, installed by gunicorn.conf.py in the master before it forks."""
