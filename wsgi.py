"""WSGI entry point for gunicorn (`gunicorn wsgi:app`) and the CLI (`flask --app wsgi ...`)."""
from tracker_api import create_app

app = create_app()
