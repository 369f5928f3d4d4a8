"""The trace viewer: a local, read-only web app over the trace store, and a self-contained HTML export.

``scireflect.viewer.app.serve`` / ``create_app`` serve it; ``scireflect.viewer.export.export_html``
writes one trace as a single file. FastAPI and uvicorn come with ``pip install 'scireflect[viewer]'``.
"""
