"""The headers every response carries (CSP, no sniffing, no framing, Permissions-Policy), and noindex on admin pages."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Pages load nothing from elsewhere but images (a cover); no inline script, no framing, forms only to us; scripts
# may ask the app itself (the editor's live previews).
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
# The login page with sign-in with Telegram: Telegram's widget script, and the frame it opens.
TELEGRAM_LOGIN_CSP = CSP.replace("script-src 'self'", "script-src 'self' https://telegram.org") + (
    "; frame-src https://oauth.telegram.org")
# The app uses none of these; a script injected despite the CSP gets none of them either.
PERMISSIONS_POLICY = ("accelerometer=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), "
                      "magnetometer=(), microphone=(), payment=(), usb=(), browsing-topics=()")
# Not for search engines: the dashboard, its login, health and metrics.
PRIVATE_PREFIXES = ("/admin", "/healthz", "/metrics")


class SecurityHeaders:
    """Adds the headers a response did not set itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        private = str(scope.get("path", "")).startswith(PRIVATE_PREFIXES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                wanted = [
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"same-origin"),
                    (b"permissions-policy", PERMISSIONS_POLICY.encode()),
                ]
                if private:
                    wanted.append((b"x-robots-tag", b"noindex, nofollow"))
                headers += [(name, value) for name, value in wanted if name not in names]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
