"""FunctionalScaffold: an algorithm served over HTTP (app.factory.create_app builds the app).

Importing a part of the package imports only what that part needs: the scale-out
worker (`python -m app.worker`) and the algorithms load no Flask, no blueprint and no
OpenAPI builder (tests/test_layers.py).
"""
