#!/usr/bin/python3
"""Drive a live rms-server through its WSDLs with python zeep, as a
third-party integrator would: both services, real TLS, WS-Security built by
zeep itself.

usage: zeep_client.py --url https://HOST:PORT --ca CA.crt --device-cert C.crt
                      --device-key C.key --server-cert SERVER.crt
                      --user admin --password PW

Prints one JSON object per line on stdout ({"op": ..., "result": ...}); the
Go test reads them. Exits 1 with a message on stderr on any unexpected
failure.

What zeep needs to talk to us (each point is a default that does not fit):
- requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE from the environment
  override session.verify (psf/requests#3829), so the session ignores the
  environment (trust_env = False) to trust exactly the test CA.
- BinarySignature signs with RSA-SHA1 / SHA-1 unless told otherwise; our
  server refuses SHA-1, so signature_method and digest_method are SHA-256.
- BinarySignature signs a wsu:Timestamp only if one is already in the
  Security header and never adds one; the server requires exactly Body and
  Timestamp, so DeviceSecurity adds the Timestamp before zeep signs.
- zeep's wsse plugin verifies a response with the *client's own*
  certificate (Signature.verify uses the signing cert), which can never
  match the server's signature: every signed answer fails with
  SignatureVerificationFailed. zeep's verify_envelope(envelope, certfile)
  given the server certificate does verify our answers (it uses the given
  key and ignores the thumbprint KeyInfo), but it checks neither what was
  signed nor the Timestamp. DeviceSecurity.verify therefore checks the
  references are exactly Body and Timestamp (SHA-256, exclusive c14n), the
  thumbprint names the server certificate, and the Timestamp is current,
  then lets zeep's verify_envelope check the signature value.
"""
import argparse
import base64
import copy
import datetime
import hashlib
import json
import sys
import traceback
import uuid

import requests
import xmlsec
from lxml import etree
from zeep import Client, Settings
from zeep.exceptions import Fault, SignatureVerificationFailed
from zeep.helpers import serialize_object
from zeep.transports import Transport
from zeep.wsse.signature import BinarySignature, verify_envelope
from zeep.wsse.username import UsernameToken
from zeep.wsse.utils import WSU, get_security_header, get_timestamp

NS_SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
NS_WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
NS_WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
NS_DS = "http://www.w3.org/2000/09/xmldsig#"
NS_DEVICE = "urn:rms:device:v1"
NS_MANAGE = "urn:rms:management:v1"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
SKEW = datetime.timedelta(minutes=5)


class Unexpected(Exception):
    """Anything the server did that an integrator would not expect."""


def out(op, result):
    print(json.dumps({"op": op, "result": serialize_object(result, dict)}, default=str, sort_keys=True), flush=True)


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def device_request():
    """The fields every DeviceService request starts with."""
    return {"messageId": str(uuid.uuid4()), "sentAt": now()}


def fault_code(fault):
    """The FaultDetail code of a zeep Fault, or None."""
    if fault.detail is None:
        return None
    for el in fault.detail.iter():
        if etree.QName(el).localname == "code" and etree.QName(el).namespace in (NS_DEVICE, NS_MANAGE):
            return el.text
    return None


class DeviceSecurity:
    """zeep wsse plugin: Timestamp + BinarySignature out, server signature in."""

    def __init__(self, key_file, cert_file, server_cert_file, zeep_defaults=False, timestamp=True):
        # zeep_defaults leaves zeep's own algorithm choice (RSA-SHA1, SHA-1),
        # to show the server refuses it rather than silently accepting SHA-1.
        sha256 = {} if zeep_defaults else {
            "signature_method": xmlsec.constants.TransformRsaSha256,
            "digest_method": xmlsec.constants.TransformSha256}
        self.signer = BinarySignature(key_file, cert_file, **sha256)
        self.timestamp = timestamp
        self.server_cert_file = server_cert_file
        self.server_thumbprint = hashlib.sha1(pem_der(server_cert_file)).digest()
        self.verified = 0
        self.last = None  # the last verified response, for the tamper self-check

    def apply(self, envelope, headers):
        if self.timestamp:
            security = get_security_header(envelope)
            created = now().replace(microsecond=0)
            security.append(WSU.Timestamp(
                WSU.Created(get_timestamp(created, zulu_timestamp=True)),
                WSU.Expires(get_timestamp(created + SKEW, zulu_timestamp=True))))
        return self.signer.apply(envelope, headers)

    def verify(self, envelope):
        try:
            self._verify(envelope)
        except Unexpected as e:
            raise SignatureVerificationFailed("server response: %s" % e)
        self.verified += 1
        self.last = copy.deepcopy(envelope)
        return envelope

    def _verify(self, envelope):
        security = envelope.find("{%s}Header/{%s}Security" % (NS_SOAP, NS_WSSE))
        if security is None:
            raise Unexpected("not signed (no wsse:Security header)")
        sigs = envelope.findall(".//{%s}Signature" % NS_DS)
        if len(sigs) != 1 or sigs[0].getparent() is not security:
            raise Unexpected("expected one ds:Signature in the Security header, found %d" % len(sigs))
        sig = sigs[0]
        body = envelope.find("{%s}Body" % NS_SOAP)
        ts = security.find("{%s}Timestamp" % NS_WSU)
        if body is None or ts is None:
            raise Unexpected("Body or wsu:Timestamp missing")
        method = sig.find("{0}SignedInfo/{0}CanonicalizationMethod".format("{%s}" % NS_DS))
        if method is None or method.get("Algorithm") != EXC_C14N:
            raise Unexpected("SignedInfo is not exclusive c14n")
        # Which elements are signed matters as much as whether the value
        # checks out: resolve each reference by wsu:Id and demand exactly the
        # Body and the Timestamp we are about to read.
        want = {id(body): "Body", id(ts): "Timestamp"}
        seen = set()
        for ref in sig.findall("{0}SignedInfo/{0}Reference".format("{%s}" % NS_DS)):
            uri = ref.get("URI", "")
            hits = envelope.xpath("//*[@wsu:Id=$id]", namespaces={"wsu": NS_WSU}, id=uri[1:])
            if not uri.startswith("#") or len(hits) != 1 or id(hits[0]) not in want:
                raise Unexpected("reference %r is not the Body or the Timestamp" % uri)
            if ref.find("{%s}DigestMethod" % NS_DS).get("Algorithm") != SHA256:
                raise Unexpected("reference %r is not digested with SHA-256" % uri)
            seen.add(want[id(hits[0])])
        if seen != {"Body", "Timestamp"} or len(sig.findall(".//{%s}Reference" % NS_DS)) != 2:
            raise Unexpected("references are %s, want exactly Body and Timestamp" % sorted(seen))
        # The KeyInfo names the server certificate by thumbprint, which
        # xmlsec cannot resolve on its own; we hold the certificate, so the
        # key is given and the thumbprint checked against it.
        thumb = sig.find(".//{%s}KeyIdentifier" % NS_WSSE)
        if thumb is not None and thumb.get("ValueType", "").endswith("#ThumbprintSHA1"):
            if base64.b64decode(thumb.text) != self.server_thumbprint:
                raise Unexpected("KeyIdentifier thumbprint is not the server certificate's")
        try:
            verify_envelope(envelope, self.server_cert_file)
        except SignatureVerificationFailed:
            raise Unexpected("signature value does not verify against the server certificate")
        created = datetime.datetime.fromisoformat(ts.findtext("{%s}Created" % NS_WSU).replace("Z", "+00:00"))
        expires = datetime.datetime.fromisoformat(ts.findtext("{%s}Expires" % NS_WSU).replace("Z", "+00:00"))
        if not (created - SKEW <= now() <= expires + SKEW):
            raise Unexpected("response Timestamp %s..%s is not current" % (created, expires))


def pem_der(path):
    pem = open(path).read()
    body = pem.split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]
    return base64.b64decode("".join(body.split()))


def session(ca, cert=None):
    s = requests.Session()
    s.trust_env = False
    s.verify = ca
    if cert:
        s.cert = cert
    return s


def client(url, sess, wsse):
    # strict=True (the default) so anything the WSDL does not describe fails.
    return Client(url, transport=Transport(session=sess, timeout=30, operation_timeout=30),
                  wsse=wsse, settings=Settings(strict=True))


def expect_fault(code, fn, *args, **kw):
    try:
        fn(*args, **kw)
    except Fault as f:
        got = fault_code(f)
        if got != code:
            raise Unexpected("want fault %s, got %s (%s)" % (code, got, f.message))
        return got
    raise Unexpected("want fault %s, the call succeeded" % code)


def run(a):
    base = a.url.rstrip("/")
    device_wsdl = base + "/soap/device?wsdl"
    mtls = session(a.ca, (a.device_cert, a.device_key))
    dev_sec = DeviceSecurity(a.device_key, a.device_cert, a.server_cert)
    dev = client(device_wsdl, mtls, dev_sec).service
    mgr = client(base + "/soap/manage?wsdl", session(a.ca), UsernameToken(a.user, a.password)).service
    bad = client(base + "/soap/manage?wsdl", session(a.ca), UsernameToken(a.user, a.password + "-wrong")).service
    device_id = a.device_id

    # Wrong password: a typed fault, not an HTTP error.
    out("WrongPassword", {"faultCode": expect_fault("FORBIDDEN", bad.ListDevices)})

    # What zeep sends when not configured is refused, and says why.
    sha1 = client(device_wsdl, mtls, DeviceSecurity(a.device_key, a.device_cert, a.server_cert, zeep_defaults=True)).service
    out("ZeepDefaultAlgorithms", {"faultCode": expect_fault("BAD_SIGNATURE", sha1.Heartbeat, **device_request(), state="ok")})
    no_ts = client(device_wsdl, mtls, DeviceSecurity(a.device_key, a.device_cert, a.server_cert, timestamp=False)).service
    out("ZeepWithoutTimestamp", {"faultCode": expect_fault("BAD_SIGNATURE", no_ts.Heartbeat, **device_request(), state="ok")})

    # DeviceService: every request signed by zeep, every answer verified.
    out("Heartbeat", dev.Heartbeat(**device_request(), state="warning",
                                   metric=[{"name": "temp", "value": 41.5, "unit": "C"}],
                                   property=[{"name": "firmware", "value": "zeep-4.2"}]))
    # The response check is only worth something if it can fail: a verified
    # answer with one changed value must be refused.
    tampered = dev_sec.last
    tampered.find(".//{%s}serverTime" % NS_DEVICE).text = "2000-01-01T00:00:00Z"
    try:
        dev_sec.verify(tampered)
        raise Unexpected("a tampered HeartbeatResponse passed our response verification")
    except SignatureVerificationFailed as e:
        out("TamperedResponseRefused", {"reason": str(e)})
    out("ReportAlarms", dev.ReportAlarms(**device_request(), alarm=[{
        "code": "ZEEP-101", "severity": "major", "text": "raised through zeep", "raisedAt": now(),
        "context": [{"name": "sensor", "value": "t1"}]}]))
    # A device fault comes back signed too (verified before zeep raises).
    out("HeartbeatForAnother", {"faultCode": expect_fault(
        "FORBIDDEN", dev.Heartbeat, **dict(device_request(), deviceId="dev-0001"), state="ok")})

    content = b"2026-11-23 10:00:00 ZEEP-101 raised through zeep\n" * 20
    begin = dev.BeginUpload(**device_request(), name="zeep.log", kind="log", size=len(content),
                            sha256=hashlib.sha256(content).hexdigest(), compression="none")
    out("BeginUpload", begin)
    out("UploadChunk", dev.UploadChunk(**device_request(), uploadId=begin.uploadId, offset=0,
                                       sha256=hashlib.sha256(content).hexdigest(), data=content))
    out("CommitUpload", dev.CommitUpload(**device_request(), uploadId=begin.uploadId))

    # ManagementService.
    out("ListDevices", mgr.ListDevices())
    got = mgr.GetDevice(deviceId=device_id)
    out("GetDevice", got)
    if got.summary.state != "warning":
        raise Unexpected("GetDevice: state %r, want warning" % got.summary.state)
    out("GetDeviceHistory", mgr.GetDeviceHistory(deviceId=device_id))
    alarms = mgr.ListAlarms(deviceId=device_id, state="active")
    out("ListAlarms", alarms)
    mine = [al for al in alarms.alarm if al.code == "ZEEP-101"]
    if len(mine) != 1:
        raise Unexpected("ListAlarms: want one active ZEEP-101 alarm, got %d" % len(mine))
    out("AcknowledgeAlarm", mgr.AcknowledgeAlarm(alarmId=mine[0].alarmId, comment="seen from zeep"))
    out("ClearAlarm", mgr.ClearAlarm(alarmId=mine[0].alarmId, comment="cleared from zeep"))
    queued = mgr.QueueInstruction(deviceId=device_id, type="RunDiagnostic",
                                  parameter=[{"name": "name", "value": "selftest"}],
                                  ttlSeconds=600, requestId="zeep-" + str(uuid.uuid4()))
    out("QueueInstruction", queued)
    # zeep unwraps a response whose only child is one element: QueueInstruction
    # and GetInstruction return the Instruction itself.
    iid = queued.instructionId
    out("GetInstruction", mgr.GetInstruction(instructionId=iid))

    polled = dev.RequestInstructions(**device_request(), waitSeconds=0)
    out("RequestInstructions", polled)
    if iid not in [i.id for i in polled.instruction]:
        raise Unexpected("RequestInstructions: %s not among %s" % (iid, [i.id for i in polled.instruction]))
    out("ReportInstructionResult", dev.ReportInstructionResult(
        **device_request(), instructionId=iid, status="succeeded", exitCode=0,
        output="selftest passed (zeep)", finishedAt=now()))

    done = mgr.GetInstruction(instructionId=iid)
    out("GetInstructionAfter", done)
    if done.status != "succeeded":
        raise Unexpected("GetInstruction: status %r, want succeeded" % done.status)
    out("ListInstructions", mgr.ListInstructions(deviceId=device_id))
    uploads = mgr.ListUploads(deviceId=device_id)
    out("ListUploads", uploads)
    if uploads.upload:
        fetched = mgr.FetchUpload(uploadId=uploads.upload[0].uploadId, offset=0)
        out("FetchUpload", {"uploadId": fetched.uploadId, "size": fetched.size, "eof": fetched.eof,
                            "sha256": hashlib.sha256(fetched.data or b"").hexdigest()})
        if fetched.data != content:
            raise Unexpected("FetchUpload: content differs from what was uploaded")
    out("QueryAudit", mgr.QueryAudit(actor="device:" + device_id, limit=20))
    out("Summary", {"deviceResponsesVerified": dev_sec.verified})


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for flag in ("url", "ca", "device-cert", "device-key", "server-cert", "user", "password"):
        p.add_argument("--" + flag, required=True)
    p.add_argument("--device-id", default="dev-0002")
    a = p.parse_args()
    try:
        run(a)
    except Unexpected as e:
        sys.exit("zeep_client: unexpected: %s" % e)
    except Fault as f:
        sys.exit("zeep_client: unexpected fault %s: %s" % (fault_code(f), f.message))
    except SignatureVerificationFailed as e:
        sys.exit("zeep_client: %s" % e)
    except Exception:
        traceback.print_exc()
        sys.exit("zeep_client: unexpected error (traceback above)")


if __name__ == "__main__":
    main()
