#!/usr/bin/python3
"""Print the GetDevice request zeep builds from wsdl/management.wsdl with its
UsernameToken plugin, as a WSDL-discovered operator client would send it.

usage: zeep_usernametoken.py WSDL USER PASSWORD [text|digest]

text:    UsernameToken(user, password)                    (the default)
digest:  UsernameToken(user, password, use_digest=True)   (we refuse it)

zeep 4.2.1 writes Nonce and Created only with PasswordDigest; the WSS4J
form that carries them with PasswordText is covered by a hand-written case.
"""
import sys

from lxml import etree
from zeep import Client
from zeep.wsse.username import UsernameToken

wsdl, user, password = sys.argv[1:4]
mode = sys.argv[4] if len(sys.argv) > 4 else "text"
if mode == "digest":
    token = UsernameToken(user, password, use_digest=True)
else:
    token = UsernameToken(user, password)
client = Client(wsdl, wsse=token)
envelope = client.create_message(client.service, "GetDevice", deviceId="dev-0001")
sys.stdout.write(etree.tostring(envelope, encoding="unicode"))
