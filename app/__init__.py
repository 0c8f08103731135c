"""FunctionalScaffold: an algorithm served over HTTP (app.factory.create_app builds the app).
Its layers import one way (README, "Development"; tests/test_layers.py)."""
