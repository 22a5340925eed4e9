"""A small HTTP client for the WeChat mini-program server API.

What login, phone binding and share posters need: ``jscode2session``, the
``stable_token`` access token (cached in Redis until shortly before it
expires), ``getuserphonenumber`` and ``getwxacodeunlimit`` (a mini-program
code image).  The base URL is configurable so tests
point it at a fake WeChat server on loopback.  Network failures, timeouts,
5xx and WeChat's own "system busy" become ``WechatUnavailable`` (HTTP 503);
a bad or used code becomes ``WechatCodeInvalid`` (HTTP 400).

Nothing here logs request URLs or bodies: they carry the app secret, login
codes and session keys.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from django.conf import settings
from django.core.cache import cache

from members.exceptions import MiniProgramCodeRefused, WechatCodeInvalid, WechatUnavailable

# errcodes that mean "this code is bad", as opposed to "WeChat is unwell".
_INVALID_CODE_ERRORS = {40029, 40163, 40226}
_TOKEN_INVALID_ERRORS = {40001, 42001, 40014}
_TOKEN_CACHE_KEY = "wechat:access_token"
# getwxacodeunlimit's errcodes that mean "try again later", as opposed to "this request is wrong"
# (41030: the page is not in the published mini-program; 40169/40097: a bad scene or argument).
_BUSY_ERRORS = {-1, 45009}
# Our WECHAT_MINIPROGRAM_STATE (subscription messages' words) -> getwxacodeunlimit's env_version.
_ENV_VERSIONS = {"formal": "release", "trial": "trial", "developer": "develop"}


@dataclass(frozen=True)
class WechatSessionInfo:
    openid: str
    unionid: str
    session_key: str

    def __repr__(self):  # keep session_key out of tracebacks and logs
        return f"WechatSessionInfo(openid={self.openid!r}, unionid={self.unionid!r})"


# One pooled client per process (httpx clients are thread-safe): a new one per call built a fresh TLS
# context and connection for every login, the slowest step of the member journey.
_http = httpx.Client()


class WechatClient:
    def __init__(self, *, base_url: str, app_id: str, app_secret: str, timeout: float):
        self.base_url = base_url.rstrip("/")
        self.app_id = app_id
        self.app_secret = app_secret
        self.timeout = timeout

    @classmethod
    def from_settings(cls) -> WechatClient:
        return cls(
            base_url=settings.WECHAT_API_BASE,
            app_id=settings.WECHAT_APP_ID,
            app_secret=settings.WECHAT_APP_SECRET,
            timeout=settings.WECHAT_TIMEOUT_SECONDS,
        )

    def _request(self, method: str, path: str, **kwargs) -> httpx.Response:
        try:
            response = _http.request(method, f"{self.base_url}{path}", timeout=self.timeout, **kwargs)
        except httpx.HTTPError as exc:
            raise WechatUnavailable(details={"reason": type(exc).__name__}) from None
        if response.status_code >= 400:
            raise WechatUnavailable(details={"http_status": response.status_code})
        return response

    @staticmethod
    def _json(response: httpx.Response) -> dict:
        try:
            data = response.json()
        except ValueError:
            raise WechatUnavailable(details={"reason": "invalid_response"}) from None
        if not isinstance(data, dict):
            raise WechatUnavailable(details={"reason": "invalid_response"})
        return data

    def _call(self, method: str, path: str, **kwargs) -> dict:
        return self._json(self._request(method, path, **kwargs))

    @staticmethod
    def _check(data: dict) -> dict:
        errcode = data.get("errcode") or 0
        if errcode in _INVALID_CODE_ERRORS:
            raise WechatCodeInvalid(details={"errcode": errcode})
        if errcode:
            raise WechatUnavailable(details={"errcode": errcode})
        return data

    def code_to_session(self, code: str) -> WechatSessionInfo:
        data = self._check(
            self._call(
                "GET",
                "/sns/jscode2session",
                params={
                    "appid": self.app_id,
                    "secret": self.app_secret,
                    "js_code": code,
                    "grant_type": "authorization_code",
                },
            )
        )
        if not data.get("openid") or not data.get("session_key"):
            raise WechatUnavailable(details={"reason": "invalid_response"})
        return WechatSessionInfo(
            openid=data["openid"], unionid=data.get("unionid", ""), session_key=data["session_key"]
        )

    def access_token(self, *, refresh: bool = False) -> str:
        token = None if refresh else cache.get(_TOKEN_CACHE_KEY)
        if token:
            return token
        data = self._check(
            self._call(
                "POST",
                "/cgi-bin/stable_token",
                json={
                    "grant_type": "client_credential",
                    "appid": self.app_id,
                    "secret": self.app_secret,
                    "force_refresh": refresh,
                },
            )
        )
        token = data.get("access_token")
        if not token:
            raise WechatUnavailable(details={"reason": "invalid_response"})
        # Renew five minutes early so a token never expires mid-request.
        cache.set(_TOKEN_CACHE_KEY, token, timeout=max(int(data.get("expires_in", 7200)) - 300, 60))
        return token

    def phone_number(self, code: str) -> str:
        """The member's phone from a ``getPhoneNumber`` code (with country code if not 86)."""
        for attempt in range(2):
            data = self._call(
                "POST",
                "/wxa/business/getuserphonenumber",
                params={"access_token": self.access_token(refresh=attempt > 0)},
                json={"code": code},
            )
            if data.get("errcode") in _TOKEN_INVALID_ERRORS and attempt == 0:
                continue  # token revoked early (e.g. refreshed elsewhere): fetch a new one once
            info = self._check(data).get("phone_info") or {}
            number = info.get("purePhoneNumber")
            if not number:
                raise WechatUnavailable(details={"reason": "invalid_response"})
            country = str(info.get("countryCode") or "86")
            return number if country == "86" else f"+{country}{number}"
        raise WechatUnavailable(details={"reason": "access_token_rejected"})

    def mini_program_code(self, *, scene: str, page: str, width: int = 430) -> bytes:
        """The image of an unlimited mini-program code (``wxacode.getUnlimited``) opening ``page`` with ``scene``.

        WeChat answers the image itself, or JSON with an errcode.  Busy or rate-limited (-1, 45009) is
        ``WechatUnavailable``; a request WeChat refuses (41030: the page is not in the published
        mini-program, a bad scene) is ``MiniProgramCodeRefused``.  The version opened follows
        ``WECHAT_MINIPROGRAM_STATE``; only the released one has its page checked (``check_path``).
        """
        env_version = _ENV_VERSIONS.get(settings.WECHAT_MINIPROGRAM_STATE, "release")
        body = {
            "scene": scene,
            "page": page,
            "width": width,
            "check_path": env_version == "release",
            "env_version": env_version,
        }
        for attempt in range(2):
            response = self._request(
                "POST",
                "/wxa/getwxacodeunlimit",
                params={"access_token": self.access_token(refresh=attempt > 0)},
                json=body,
            )
            if response.headers.get("content-type", "").startswith("image/"):
                return response.content
            data = self._json(response)
            errcode = data.get("errcode") or 0
            if errcode in _TOKEN_INVALID_ERRORS and attempt == 0:
                continue  # token revoked early: fetch a new one once
            if not errcode:
                raise WechatUnavailable(details={"reason": "invalid_response"})
            if errcode in _BUSY_ERRORS or errcode in _TOKEN_INVALID_ERRORS:
                raise WechatUnavailable(details={"errcode": errcode})
            raise MiniProgramCodeRefused(details={"errcode": errcode})
        raise WechatUnavailable(details={"reason": "access_token_rejected"})
