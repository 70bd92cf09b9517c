#!/usr/bin/python3
"""Sign a SOAP 1.1 envelope the way third-party WS-Security stacks do, with
Debian's python3-xmlsec (libxmlsec1) or zeep's WS-Security module, so our Go
verifier can be checked against an independent implementation.

usage: wss_sign.py xmlsec|zeep KEY.pem CERT.pem [rsa|ec] < unsigned.xml > signed.xml

xmlsec: WSS4J's layout: ds: prefix, BinarySecurityToken referenced from a
        SecurityTokenReference, InclusiveNamespaces on each transform,
        exc-c14n, SHA-256 digests, rsa-sha256 or ecdsa-sha256 by key type.
zeep:   zeep.wsse.signature.BinarySignature with RSA-SHA256 / SHA-256 over
        the Body and a Timestamp we add first (zeep signs it when present).
"""
import base64
import datetime
import sys

from lxml import etree
import xmlsec

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DS = "http://www.w3.org/2000/09/xmldsig#"
EXC = "http://www.w3.org/2001/10/xml-exc-c14n#"
X509V3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
B64 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"


def q(ns, local):
    return "{%s}%s" % (ns, local)


def security_header(env):
    header = env.find(q(SOAP, "Header"))
    if header is None:
        header = etree.Element(q(SOAP, "Header"))
        env.insert(0, header)
    sec = etree.SubElement(header, q(WSSE, "Security"), nsmap={"wsse": WSSE, "wsu": WSU})
    sec.set(q(SOAP, "mustUnderstand"), "1")
    return sec


def add_timestamp(sec, when):
    ts = etree.SubElement(sec, q(WSU, "Timestamp"))
    ts.set(q(WSU, "Id"), "TS-3rdparty")
    etree.SubElement(ts, q(WSU, "Created")).text = when.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    expires = when + datetime.timedelta(minutes=5)
    etree.SubElement(ts, q(WSU, "Expires")).text = expires.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return ts


def cert_der(cert_file):
    pem = open(cert_file).read()
    body = pem.split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]
    return base64.b64decode("".join(body.split()))


def sign_xmlsec(env, key_file, cert_file, when):
    sec = security_header(env)
    body = env.find(q(SOAP, "Body"))
    body.set(q(WSU, "Id"), "id-body-3rdparty")
    bst = etree.SubElement(sec, q(WSSE, "BinarySecurityToken"))
    bst.set("EncodingType", B64)
    bst.set("ValueType", X509V3)
    bst.set(q(WSU, "Id"), "X509-3rdparty")
    bst.text = base64.b64encode(cert_der(cert_file)).decode()
    ts = add_timestamp(sec, when)

    key = xmlsec.Key.from_file(key_file, xmlsec.constants.KeyDataFormatPem)
    ec = sys.argv[4:] == ["ec"]
    method = xmlsec.constants.TransformEcdsaSha256 if ec else xmlsec.constants.TransformRsaSha256
    sig = xmlsec.template.create(env, xmlsec.constants.TransformExclC14N, method, ns="ds")
    sec.append(sig)
    for node, prefixes in ((ts, "wsse soap"), (body, "")):
        ref = xmlsec.template.add_reference(sig, xmlsec.constants.TransformSha256, uri="#" + node.get(q(WSU, "Id")))
        tr = xmlsec.template.add_transform(ref, xmlsec.constants.TransformExclC14N)
        if prefixes:
            incl = etree.SubElement(tr, q(EXC, "InclusiveNamespaces"), nsmap={"ec": EXC})
            incl.set("PrefixList", prefixes)
    ki = xmlsec.template.ensure_key_info(sig)
    str_ = etree.SubElement(ki, q(WSSE, "SecurityTokenReference"))
    r = etree.SubElement(str_, q(WSSE, "Reference"))
    r.set("URI", "#X509-3rdparty")
    r.set("ValueType", X509V3)

    ctx = xmlsec.SignatureContext()
    ctx.key = key
    ctx.register_id(body, "Id", WSU)
    ctx.register_id(ts, "Id", WSU)
    ctx.sign(sig)


def sign_zeep(env, key_file, cert_file, when):
    from zeep.wsse.signature import BinarySignature
    sec = security_header(env)
    add_timestamp(sec, when)
    BinarySignature(key_file, cert_file,
                    signature_method=xmlsec.constants.TransformRsaSha256,
                    digest_method=xmlsec.constants.TransformSha256).apply(env, {})


def main():
    mode, key_file, cert_file = sys.argv[1:4]
    when = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    env = etree.fromstring(sys.stdin.buffer.read())
    {"xmlsec": sign_xmlsec, "zeep": sign_zeep}[mode](env, key_file, cert_file, when)
    sys.stdout.buffer.write(etree.tostring(env))


if __name__ == "__main__":
    main()
