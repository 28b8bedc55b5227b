"""A local STS stand-in that speaks STS's protocol for web identity: AssumeRoleWithWebIdentity, its parameters
in the query or the form of a POST, the 2011-06-15 XML answer. It hands out the keys it was given as the
session's credentials, with a session token and an expiry, and records every call."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

ROLE = "arn:aws:iam::123456789012:role/pixelflow-images"
TOKEN = "eyJhbGciOiJSUzI1NiJ9.projected-service-account-token.signature"


class STS(ThreadingHTTPServer):
    def __init__(self, access_key: str, secret_key: str, lifetime: timedelta) -> None:
        super().__init__(("127.0.0.1", 0), StsHandler)
        self.access_key, self.secret_key, self.lifetime = access_key, secret_key, lifetime
        self.calls: list[dict[str, str]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class StsHandler(BaseHTTPRequestHandler):
    server: STS

    def log_message(self, *_: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        params = {k: v[0] for k, v in {**parse_qs(urlsplit(self.path).query), **parse_qs(body)}.items()}
        self.server.calls.append(params)
        if params.get("Action") != "AssumeRoleWithWebIdentity" or params.get("WebIdentityToken") != TOKEN:
            self.answer(400, "<ErrorResponse><Error><Code>InvalidIdentityToken</Code></Error></ErrorResponse>")
            return
        expires = (datetime.now(UTC) + self.server.lifetime).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.answer(
            200,
            f"""<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>system:serviceaccount:images:pixelflow-worker</SubjectFromWebIdentityToken>
    <AssumedRoleUser>
      <Arn>{params.get("RoleArn")}/{params.get("RoleSessionName")}</Arn>
      <AssumedRoleId>AROAEXAMPLE:{params.get("RoleSessionName")}</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>{self.server.access_key}</AccessKeyId>
      <SecretAccessKey>{self.server.secret_key}</SecretAccessKey>
      <SessionToken>session-{len(self.server.calls)}</SessionToken>
      <Expiration>{expires}</Expiration>
    </Credentials>
    <Audience>sts.amazonaws.com</Audience>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>""",
        )

    def answer(self, status: int, xml: str) -> None:
        data = xml.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
