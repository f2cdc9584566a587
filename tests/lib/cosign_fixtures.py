"""cosign-format signatures, attestations and Sigstore bundle referrers for a registry_harness
Registry, made without cosign: keys and signatures come from the openssl CLI (ECDSA P-256,
SHA-256, DER), the layouts follow ../shared/supply-chain-formats.md §2 (.sig), §3 (.att, DSSE
and PAE), §4 (referrers and the `sha256-<hex>` tag fallback) and §5.4 (the legacy Rekor bundle
annotation, signed with a test "Rekor" key).

    from registry_harness import Registry, push_image
    from cosign_fixtures import generate_key, RekorLog, sign_image, attest_image, \\
        push_referrer_bundle
    key = generate_key(tmpdir)                       # .private_path, .public_path, .public_pem
    rekor = RekorLog(tmpdir)                         # a test transparency log: .public_pem, .log_id
    sig = sign_image(reg, "demo/app", digest, key, rekor=rekor)
    att = attest_image(reg, "demo/app", digest, key, "https://slsa.dev/provenance/v1",
                       {"buildDefinition": {...}, "runDetails": {...}}, rekor=rekor)
    push_referrer_bundle(reg, "demo/app", digest, bundle_bytes,
                         "https://sigstore.dev/cosign/sign/v1")

Every push function returns a dict describing what it wrote (payload, signature, envelope,
manifest digest, bundle...), so that tests can tamper with copies or assert on them. Signing
twice appends a layer to the existing `.sig`/`.att` manifest, as cosign does.

Python 3 standard library only (plus the openssl CLI).
"""

import base64
import hashlib
import json
import os
import subprocess
import time

from registry_harness import OCI_CONFIG, OCI_INDEX, OCI_MANIFEST, sha256_digest

SIMPLESIGNING_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
DSSE_TYPE = "application/vnd.dsse.envelope.v1+json"
INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
BUNDLE_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
EMPTY_CONFIG_TYPE = "application/vnd.oci.empty.v1+json"
STATEMENT_V01 = "https://in-toto.io/Statement/v0.1"
STATEMENT_V1 = "https://in-toto.io/Statement/v1"

ANN_SIGNATURE = "dev.cosignproject.cosign/signature"
ANN_CERTIFICATE = "dev.sigstore.cosign/certificate"
ANN_CHAIN = "dev.sigstore.cosign/chain"
ANN_BUNDLE = "dev.sigstore.cosign/bundle"


def b64(data):
    return base64.b64encode(data).decode()


def canonical_json(obj):
    """Sorted keys, no whitespace: the canonical JSON the SET is computed over."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def pae(payload_type, payload):
    """The DSSE pre-authentication encoding: "DSSEv1 <len> <type> <len> <payload>" (bytes)."""
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


class Key:
    """An ECDSA P-256 key pair in PEM files."""

    def __init__(self, private_path, public_path):
        self.private_path = private_path
        self.public_path = public_path
        with open(public_path, "rb") as f:
            self.public_pem = f.read()

    def sign(self, data):
        """DER ECDSA-SHA256 signature of data (openssl dgst -sha256 -sign)."""
        return subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.private_path],
                              input=data, capture_output=True, check=True).stdout

    def spki_der(self):
        return subprocess.run(["openssl", "pkey", "-pubin", "-in", self.public_path, "-outform",
                               "DER"], capture_output=True, check=True).stdout


def generate_key(dirpath, name="cosign"):
    """Makes <dirpath>/<name>.key and <name>.pub (PEM "PUBLIC KEY") with the openssl CLI."""
    os.makedirs(dirpath, exist_ok=True)
    priv = os.path.join(dirpath, name + ".key")
    pub = os.path.join(dirpath, name + ".pub")
    subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-out", priv], capture_output=True, check=True)
    subprocess.run(["openssl", "pkey", "-in", priv, "-pubout", "-out", pub],
                   capture_output=True, check=True)
    return Key(priv, pub)


class RekorLog:
    """A test transparency log: a key, its log ID (hex sha256 of the SPKI DER) and a counter.
    It makes cosign's legacy bundle annotation (§5.4): the entry body and a SET over
    {"body","integratedTime","logID","logIndex"} (canonical JSON) signed with its key."""

    def __init__(self, dirpath, name="rekor"):
        self.key = generate_key(dirpath, name)
        self.public_pem = self.key.public_pem
        self.log_id = hashlib.sha256(self.key.spki_der()).hexdigest()
        self.next_index = 1000

    def bundle(self, body, integrated_time=None, log_index=None):
        """The legacy bundle JSON string for an entry body (a dict, canonicalized here)."""
        if integrated_time is None:
            integrated_time = int(time.time())
        if log_index is None:
            log_index = self.next_index
            self.next_index += 1
        payload = {"body": b64(canonical_json(body)), "integratedTime": integrated_time,
                   "logID": self.log_id, "logIndex": log_index}
        set_sig = self.key.sign(canonical_json(payload))
        return json.dumps({"SignedEntryTimestamp": b64(set_sig), "Payload": payload})

    @staticmethod
    def hashedrekord_body(payload, signature_der, public_pem):
        """hashedrekord 0.0.1 for a `.sig` layer."""
        return {"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
            "data": {"hash": {"algorithm": "sha256",
                              "value": hashlib.sha256(payload).hexdigest()}},
            "signature": {"content": b64(signature_der),
                          "publicKey": {"content": b64(public_pem)}}}}

    @staticmethod
    def dsse_body(envelope_bytes, payload, signature_der, public_pem):
        """dsse 0.0.1 for an `.att` layer."""
        return {"apiVersion": "0.0.1", "kind": "dsse", "spec": {
            "envelopeHash": {"algorithm": "sha256",
                             "value": hashlib.sha256(envelope_bytes).hexdigest()},
            "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()},
            "signatures": [{"signature": b64(signature_der), "verifier": b64(public_pem)}]}}


def simple_signing_payload(docker_reference, digest, optional=None):
    """The cosign simple-signing payload bytes (§2)."""
    return json.dumps({"critical": {"identity": {"docker-reference": docker_reference},
                                    "image": {"docker-manifest-digest": digest},
                                    "type": "cosign container image signature"},
                       "optional": optional}).encode()


def _tag(digest, suffix):
    return "sha256-%s.%s" % (digest.split(":", 1)[1], suffix)


def _push_layer(registry, repo, tag, media_type, blob, annotations):
    """Appends a layer (blob + annotations) to the manifest at tag, creating it if absent.
    Returns the new manifest's digest."""
    registry.put_blob(repo, blob)
    layer = {"mediaType": media_type, "digest": sha256_digest(blob), "size": len(blob),
             "annotations": annotations}
    old, _ = registry.get_manifest(repo, tag)
    layers = json.loads(old)["layers"] if old else []
    layers.append(layer)
    config = json.dumps({"architecture": "", "os": "", "config": {},
                         "rootfs": {"type": "layers",
                                    "diff_ids": [l["digest"] for l in layers]}}).encode()
    registry.put_blob(repo, config)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": {"mediaType": OCI_CONFIG, "digest": sha256_digest(config),
                                      "size": len(config)},
                           "layers": layers}).encode()
    return registry.put_manifest(repo, tag, manifest, OCI_MANIFEST)


def sign_image(registry, repo, digest, key, rekor=None, payload=None, docker_reference=None,
               certificate_pem=None, chain_pem=None, optional=None):
    """Pushes a cosign v2 signature of digest to `sha256-<hex>.sig`: the simple-signing
    payload as the layer blob, the DER signature (base64) in the layer's annotation, and with
    rekor a legacy Rekor bundle annotation (hashedrekord). payload overrides the payload bytes
    (e.g. one for another digest). Returns {"payload","signature","bundle","manifest_digest",
    "tag"}."""
    if payload is None:
        payload = simple_signing_payload(docker_reference or "%s/%s" % (registry.host, repo),
                                         digest, optional)
    sig = key.sign(payload)
    ann = {ANN_SIGNATURE: b64(sig)}
    bundle = None
    if rekor:
        bundle = rekor.bundle(RekorLog.hashedrekord_body(payload, sig, key.public_pem))
        ann[ANN_BUNDLE] = bundle
    if certificate_pem:
        ann[ANN_CERTIFICATE] = certificate_pem
    if chain_pem:
        ann[ANN_CHAIN] = chain_pem
    tag = _tag(digest, "sig")
    md = _push_layer(registry, repo, tag, SIMPLESIGNING_TYPE, payload, ann)
    return {"payload": payload, "signature": b64(sig), "bundle": bundle, "manifest_digest": md,
            "tag": tag}


def make_statement(digest, predicate_type, predicate, statement_type=STATEMENT_V01,
                   subject_name="image"):
    """An in-toto Statement (bytes) about digest."""
    return json.dumps({"_type": statement_type,
                       "subject": [{"name": subject_name,
                                    "digest": {"sha256": digest.split(":", 1)[1]}}],
                       "predicateType": predicate_type, "predicate": predicate}).encode()


def make_envelope(statement, key, payload_type=INTOTO_PAYLOAD_TYPE):
    """A DSSE envelope (bytes) signing statement over the PAE. Returns (envelope, sig DER)."""
    sig = key.sign(pae(payload_type, statement))
    env = json.dumps({"payloadType": payload_type, "payload": b64(statement),
                      "signatures": [{"keyid": "", "sig": b64(sig)}]}).encode()
    return env, sig


def attest_image(registry, repo, digest, key, predicate_type, predicate, rekor=None,
                 statement=None, statement_type=STATEMENT_V01):
    """Pushes a cosign v2 attestation to `sha256-<hex>.att`: the DSSE envelope as the layer
    blob, annotations predicateType and an empty signature, and with rekor a legacy bundle
    (dsse entry). statement overrides the Statement bytes. Returns {"statement","envelope",
    "signature","bundle","manifest_digest","tag"}."""
    if statement is None:
        statement = make_statement(digest, predicate_type, predicate, statement_type)
    env, sig = make_envelope(statement, key)
    ann = {"predicateType": predicate_type, ANN_SIGNATURE: ""}
    bundle = None
    if rekor:
        bundle = rekor.bundle(RekorLog.dsse_body(env, statement, sig, key.public_pem))
        ann[ANN_BUNDLE] = bundle
    tag = _tag(digest, "att")
    md = _push_layer(registry, repo, tag, DSSE_TYPE, env, ann)
    return {"statement": statement, "envelope": env, "signature": b64(sig), "bundle": bundle,
            "manifest_digest": md, "tag": tag}


def push_sbom_attachment(registry, repo, digest, sbom_bytes, media_type="text/spdx"):
    """Pushes an unsigned (deprecated) `.sbom` attachment. Returns its manifest digest."""
    return _push_layer(registry, repo, _tag(digest, "sbom"), media_type, sbom_bytes, {})


def push_referrer_bundle(registry, repo, digest, bundle_bytes, predicate_type,
                         subject_media_type=OCI_MANIFEST, subject_size=None):
    """Pushes a Sigstore bundle as an OCI 1.1 referrer of digest (§4): the bundle blob, the
    2-byte empty config, the referrer manifest by digest (artifactType, subject, annotations
    dev.sigstore.bundle.predicateType), and the `sha256-<hex>` index (the tag fallback, since
    docker-registry 2.8.2 has no referrers API), appending to an existing one. Returns
    {"manifest","manifest_digest","bundle_digest"}."""
    registry.put_blob(repo, bundle_bytes)
    empty = b"{}"
    registry.put_blob(repo, empty)
    if subject_size is None:
        body, _ = registry.get_manifest(repo, digest)
        subject_size = len(body) if body else 0
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": BUNDLE_TYPE,
        "config": {"mediaType": EMPTY_CONFIG_TYPE, "digest": sha256_digest(empty), "size": 2},
        "layers": [{"mediaType": BUNDLE_TYPE, "digest": sha256_digest(bundle_bytes),
                    "size": len(bundle_bytes)}],
        "subject": {"mediaType": subject_media_type, "digest": digest, "size": subject_size},
        "annotations": {"org.opencontainers.image.created": "2026-01-01T00:00:00Z",
                        "dev.sigstore.bundle.content": "dsse-envelope",
                        "dev.sigstore.bundle.predicateType": predicate_type},
    }).encode()
    md = sha256_digest(manifest)
    registry.put_manifest(repo, md, manifest, OCI_MANIFEST)
    tag = "sha256-" + digest.split(":", 1)[1]
    old, _ = registry.get_manifest(repo, tag)
    entries = json.loads(old)["manifests"] if old else []
    entries.append({"mediaType": OCI_MANIFEST, "digest": md, "size": len(manifest),
                    "artifactType": BUNDLE_TYPE,
                    "annotations": {"dev.sigstore.bundle.predicateType": predicate_type}})
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                        "manifests": entries}).encode()
    registry.put_manifest(repo, tag, index, OCI_INDEX)
    return {"manifest": manifest, "manifest_digest": md,
            "bundle_digest": sha256_digest(bundle_bytes)}


# --- predicates, as the tools that make them write them ------------------------------------
# Realistic predicate bodies for attest_image() (and for mkbundle.mjs --predicate): the shapes
# of ../shared/supply-chain-formats.md §3 and §6.

PROVENANCE_V1 = "https://slsa.dev/provenance/v1"
CYCLONEDX = "https://cyclonedx.org/bom"
COSIGN_VULN = "https://cosign.sigstore.dev/attestation/vuln/v1"
COSIGN_SIGN_V1 = "https://sigstore.dev/cosign/sign/v1"
GITHUB_SLSA_BUILDER = ("https://github.com/slsa-framework/slsa-github-generator/.github/workflows/"
                       "generator_container_slsa3.yml@refs/tags/v2.0.0")
GITHUB_BUILD_TYPE = "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1"
TRIVY_URI = "pkg:github/aquasecurity/trivy@0.57.1"


def rfc3339(t=None):
    """Seconds since the epoch (default now) as "YYYY-MM-DDTHH:MM:SSZ"."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if t is None else t))


def slsa_v1_predicate(repository, commit, ref="refs/heads/main", builder_id=GITHUB_SLSA_BUILDER,
                      workflow=".github/workflows/release.yml", build_type=GITHUB_BUILD_TYPE):
    """A SLSA provenance v1 predicate as slsa-github-generator writes it: GitHub's workflow
    buildType (externalParameters.workflow.{repository, ref, path}), the source as
    resolvedDependencies[0] (git+<repo>@<ref>, digest.gitCommit), runDetails.builder.id."""
    return {
        "buildDefinition": {
            "buildType": build_type,
            "externalParameters": {"workflow": {"repository": repository, "ref": ref,
                                                "path": workflow}},
            "internalParameters": {"github": {"event_name": "push",
                                              "runner_environment": "github-hosted"}},
            "resolvedDependencies": [{"uri": "git+%s@%s" % (repository, ref),
                                      "digest": {"gitCommit": commit}}]},
        "runDetails": {"builder": {"id": builder_id},
                       "metadata": {"invocationId": repository + "/actions/runs/1/attempts/1"}}}


def cyclonedx_predicate(name, digest, components):
    """A CycloneDX 1.5 BOM (syft's shape) of an image. components: [(name, version, purl)]."""
    return {
        "$schema": "http://cyclonedx.org/schema/bom-1.5.schema.json",
        "bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
        "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-"
                        + hashlib.sha256(digest.encode()).hexdigest()[:12],
        "metadata": {"timestamp": rfc3339(),
                     "tools": {"components": [{"type": "application", "author": "anchore",
                                               "name": "syft", "version": "1.4.1"}]},
                     "component": {"bom-ref": "image", "type": "container", "name": name,
                                   "version": digest}},
        "components": [{"bom-ref": purl, "type": "library", "name": n, "version": v,
                        "purl": purl} for n, v, purl in components]}


def trivy_vuln_predicate(artifact, vulnerabilities, scanned_at=None):
    """The cosign vuln predicate `trivy image --format cosign-vuln` writes: scanner.result is a
    Trivy report (SchemaVersion 2). vulnerabilities: [(id, package, installed, fixed or "",
    severity)]; scanned_at: seconds since the epoch (default now)."""
    t = time.time() if scanned_at is None else scanned_at
    vulns = [{"VulnerabilityID": i, "PkgName": p, "InstalledVersion": inst,
              "FixedVersion": fixed, "Status": "fixed" if fixed else "affected",
              "Severity": sev} for i, p, inst, fixed, sev in vulnerabilities]
    result = {"Target": "%s (debian 12.8)" % artifact, "Class": "os-pkgs", "Type": "debian"}
    if vulns:
        result["Vulnerabilities"] = vulns
    return {
        "invocation": {"parameters": None, "uri": "", "event_id": "", "builder.id": ""},
        "scanner": {"uri": TRIVY_URI, "version": "0.57.1", "db": {"uri": "", "version": ""},
                    "result": {"SchemaVersion": 2, "CreatedAt": rfc3339(t - 5),
                               "ArtifactName": artifact, "ArtifactType": "container_image",
                               "Results": [result]}},
        "metadata": {"scanStartedOn": rfc3339(t - 20), "scanFinishedOn": rfc3339(t)}}


def merge_trusted_roots(*roots):
    """One trusted_root.json (a dict) trusting every CA, Rekor log and CT log of roots (dicts),
    e.g. those of two mkbundle.mjs runs, each with its own mock Fulcio and Rekor."""
    out = {"mediaType": roots[0].get("mediaType"), "tlogs": [], "certificateAuthorities": [],
           "ctlogs": [], "timestampAuthorities": []}
    for r in roots:
        for k in ("tlogs", "certificateAuthorities", "ctlogs", "timestampAuthorities"):
            out[k] += r.get(k) or []
    return out
