"""The browser face: our ASGI app (login, security headers, route guard) with the Gradio chat inside."""
from ui.web.app import UIConfigError, build_web_app, check_can_serve, serve

__all__ = ["UIConfigError", "build_web_app", "check_can_serve", "serve"]
