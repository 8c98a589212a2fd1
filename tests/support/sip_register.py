"""A phone's REGISTER with digest authentication, sent from the port its SIPp phone answers on next (a desk or
operator phone registering with the cluster's Kamailio)."""
from __future__ import annotations

import hashlib
import re
import secrets
import socket


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _register(user: str, local: tuple[str, int], registrar: tuple[str, int], call_id: str, tag: str, cseq: int,
              expires: int, authorization: str = "") -> bytes:
    uri = f"sip:{registrar[0]}:{registrar[1]}"
    lines = [f"REGISTER {uri} SIP/2.0",
             f"Via: SIP/2.0/UDP {local[0]}:{local[1]};rport;branch=z9hG4bK{secrets.token_hex(8)}",
             f"From: <sip:{user}@{registrar[0]}>;tag={tag}", f"To: <sip:{user}@{registrar[0]}>",
             f"Call-ID: {call_id}", f"CSeq: {cseq} REGISTER", f"Contact: <sip:{user}@{local[0]}:{local[1]}>",
             f"Expires: {expires}", "Max-Forwards: 70"]
    if authorization:
        lines.append(authorization)
    return ("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode()


def register(user: str, password: str, local: tuple[str, int], registrar: tuple[str, int],
             expires: int = 600, timeout: float = 5.0) -> int:
    """Register ``user`` with contact ``local`` (address, port); returns the final status code (200: done)."""
    call_id, tag = secrets.token_hex(12), secrets.token_hex(4)     # one registration: the same Call-ID and tag
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(local)
        sock.settimeout(timeout)
        sock.sendto(_register(user, local, registrar, call_id, tag, 1, expires), registrar)
        reply = sock.recv(65535).decode(errors="replace")
        status = int(reply.split()[1])
        if status != 401:
            return status
        challenge = dict(re.findall(r'(\w+)="([^"]*)"', reply.split("WWW-Authenticate:", 1)[1].split("\r\n")[0]))
        uri = f"sip:{registrar[0]}:{registrar[1]}"
        realm, nonce = challenge["realm"], challenge["nonce"]
        ha1, ha2 = _md5(f"{user}:{realm}:{password}"), _md5(f"REGISTER:{uri}")
        authorization = (f'Authorization: Digest username="{user}", realm="{realm}", nonce="{nonce}", '
                         f'uri="{uri}", algorithm=MD5')
        if "auth" in challenge.get("qop", "").split(","):       # RFC 2617 with qop=auth: nc and cnonce too
            cnonce, nc = secrets.token_hex(8), "00000001"
            response = _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
            authorization += f', qop=auth, nc={nc}, cnonce="{cnonce}"'
        else:
            response = _md5(f"{ha1}:{nonce}:{ha2}")
        authorization += f', response="{response}"'
        sock.sendto(_register(user, local, registrar, call_id, tag, 2, expires, authorization), registrar)
        while True:
            reply = sock.recv(65535).decode(errors="replace")
            status = int(reply.split()[1])
            if status >= 200:
                return status
