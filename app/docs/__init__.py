"""Interactive API docs: /openapi.json, /docs (Swagger UI 5) and /redoc (ReDoc 2).

The pages' scripts are vendored under static/ and served by the app itself, so the
docs work on a machine with no internet access.
"""
