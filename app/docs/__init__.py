"""Interactive API docs: /openapi.json, /docs (Swagger UI 5) and /redoc (ReDoc 2), their
scripts vendored under static/ so they work with no internet access."""
