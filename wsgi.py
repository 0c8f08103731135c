"""The WSGI entry point: `gunicorn wsgi:app -c gunicorn.conf.py` (see Procfile)."""
from app.factory import create_app

app = create_app()
