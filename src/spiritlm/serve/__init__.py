"""`spiritlm serve`: a FastAPI server with a web page, streaming speech and dynamic batching (see `app.py`)."""

from .app import DEFAULT_HOST, DEFAULT_PORT, ServeConfig, create_app
from .requests import RequestError
from .run import serve

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "RequestError", "ServeConfig", "create_app", "serve"]
