#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets, tests/fuzz/corpus/<parser>/: the fixtures of
tests/fixtures/verify/predicates/, hand-written inputs of each format, and from each of those
truncated copies and JSON-level mutations (a value replaced by another type, a key dropped, a
list emptied). Deterministic but for the keys and certificates it makes with openssl for the
trusted root and the legacy bundle. A developer tool: the corpora are committed, nothing runs
this at build or test time.

    /usr/bin/python3 tests/fuzz/seed.py
"""
import base64
import copy
import hashlib
import json
import os
import random
import shutil
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, '..', 'fixtures', 'verify', 'predicates')
OUT = os.path.join(HERE, 'corpus')
DIGEST_HEX = '5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270'
DIGEST = 'sha256:' + DIGEST_HEX
rng = random.Random(20261208)


def b64(b):
    return base64.b64encode(b).decode()


def fixture(name):
    with open(os.path.join(FIX, name), 'rb') as f:
        return f.read()


def paths(o, prefix=()):
    yield prefix
    if isinstance(o, dict):
        for k, v in o.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(o, list):
        for i, v in enumerate(o):
            yield from paths(v, prefix + (i,))


def mutate(doc):
    """One JSON-level mutation of a copy of doc."""
    d = copy.deepcopy(doc)
    ps = [p for p in paths(d) if p]
    if not ps:
        return d
    p = rng.choice(ps)
    parent = d
    for k in p[:-1]:
        parent = parent[k]
    choice = rng.randrange(7)
    if choice == 0 and isinstance(parent, dict):
        del parent[p[-1]]
    else:
        parent[p[-1]] = [None, 0, -1, 1e308, 'x', '', [], {}, True,
                         '2026-02-30T25:61:61Z', 'UNKNOWN', [[[]]]][rng.randrange(12)]
    return d


def variants(raw, n_mut=8):
    """raw, truncated copies, and mutations (when raw is JSON)."""
    out = [raw]
    for frac in (0.1, 0.5, 0.9):
        out.append(raw[:int(len(raw) * frac)])
    try:
        doc = json.loads(raw)
    except ValueError:
        return out
    for _ in range(n_mut):
        out.append(json.dumps(mutate(doc)).encode())
    return out


def write(parser, items):
    d = os.path.join(OUT, parser)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    seen = set()
    for data in items:
        if isinstance(data, str):
            data = data.encode()
        h = hashlib.sha1(data).hexdigest()
        if h in seen:
            continue
        seen.add(h)
        with open(os.path.join(d, h), 'wb') as f:
            f.write(data)


def openssl(*args, stdin=None):
    return subprocess.run(['openssl'] + list(args), input=stdin, check=True,
                          capture_output=True).stdout


def keys():
    """An EC P-256 key's SPKI DER and a self-signed certificate's DER."""
    with tempfile.TemporaryDirectory() as t:
        key = os.path.join(t, 'k.pem')
        openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key)
        spki = openssl('ec', '-in', key, '-pubout', '-outform', 'DER')
        cert = openssl('req', '-x509', '-new', '-key', key, '-subj', '/O=sigstore.dev/CN=sigstore',
                       '-days', '3650', '-outform', 'DER')
        return spki, cert


def main():
    preds = {n: fixture(n) for n in sorted(os.listdir(FIX))}
    vuln = ['trivy_cosign_vuln.json', 'grype_cosign_vuln.json', 'intoto_vulns_v0.2.json',
            'cyclonedx_vulns.json', 'openvex.json']
    prov = ['slsa_v1_github.json', 'slsa_v1_actions.json', 'slsa_v02.json']
    sbom = ['cyclonedx_1.5.json', 'spdx_2.3.json', 'spdx_3.json', 'cyclonedx_vulns.json']

    def from_fixtures(names):
        items = []
        for n in names:
            items += variants(preds[n], 12)
            items += variants(json.dumps(json.loads(preds[n])['predicate']).encode(), 4)
        return items

    write('vuln', from_fixtures(vuln))
    write('provenance', from_fixtures(prov))
    write('sbom', from_fixtures(sbom))

    refs = ['nginx', 'nginx:1.25', 'library/nginx:latest', 'docker.io/library/nginx',
            'ghcr.io/acme/shop:1.4.0@' + DIGEST, 'ghcr.io/acme/shop@' + DIGEST,
            'localhost/shop', 'localhost:5000/a/b/c:dev', 'registry.example:5000/shop/web',
            '127.0.0.1:5000/x@sha256:' + 'A' * 64, '[::1]:5000/x:y', 'UPPER/case', 'a//b',
            ':tag', '@' + DIGEST, 'x@sha256:zz', 'host:port:bad/x', 'x:' + 't' * 200,
            'a/' * 100 + 'b', '', 'shop@sha512:' + '0' * 128, 'shop:tag@', 'reg.io/-bad/x']
    write('image_ref', [r.encode() for r in refs])

    auth = b64(b'robot:s3cr3t')
    docker = [
        {'auths': {'ghcr.io': {'auth': auth}}},
        {'auths': {'registry:5000': {'username': 'u', 'password': 'p'},
                   'https://index.docker.io/v1/': {'auth': auth, 'email': 'a@b'}}},
        {'auths': {'ghcr.io': {'identitytoken': 'eyJhbGciOi'}, 'ghcr.io/': {'auth': auth}}},
        {'registry:5000': {'auth': auth, 'email': 'x@y'}},
        {'auths': {'h': {'auth': 'not base64!'}}},
        {'auths': {'h': {'auth': b64(b'nocolon')}}},
        {'auths': {'h': {'auth': b64(b':')}}},
        {'auths': []}, {'auths': {'h': None}}, {},
    ]
    items = []
    for d in docker:
        items += variants(json.dumps(d).encode(), 3)
    write('dockerconfig', items)

    items = []
    for n in ['trivy_cosign_vuln.json', 'slsa_v02.json', 'spdx_3.json']:
        payload = preds[n]
        env = {'payloadType': 'application/vnd.in-toto+json', 'payload': b64(payload),
               'signatures': [{'keyid': '', 'sig': b64(b'\x30\x44' + bytes(range(70)))}]}
        items += variants(json.dumps(env).encode(), 3)
    env = {'payloadType': 'text/plain', 'payload': base64.urlsafe_b64encode(b'Hello, World!>?').decode(),
           'signatures': [{'sig': 'MEUCIQ=='}, {'keyid': 'k', 'sig': '-_-_'}]}
    items += variants(json.dumps(env).encode(), 4)
    items += [b'{"payloadType":"","payload":"","signatures":[]}', b'{"payload":"%%%"}']
    write('dsse', items)

    items = []
    for n in vuln + prov + sbom:
        items += variants(preds[n], 3)
    st = json.loads(preds['slsa_v02.json'])
    st['subject'] = [None, {'digest': {'sha256': DIGEST_HEX.upper()}}]
    items.append(json.dumps(st).encode())
    st['subject'] = [{'name': 'x', 'digest': {'sha512': 'ab'}}]
    items.append(json.dumps(st).encode())
    write('statement', items)

    ss = {'critical': {'identity': {'docker-reference': 'ghcr.io/acme/shop'},
                       'image': {'docker-manifest-digest': DIGEST},
                       'type': 'cosign container image signature'},
          'optional': {'creator': 'cosign', 'timestamp': 1700000000}}
    raw = json.dumps(ss).encode()
    items = variants(raw, 10)
    items.append(raw.replace(b'"critical"', b'"critical": {}, "critical"', 1))
    items.append(raw.replace(b'"type"', b'"type": "x", "type"', 1))
    items.append(raw.replace(DIGEST.encode(), b'sha256:' + b'0' * 64))
    write('simplesigning', items)

    spki, cert = keys()
    log_id = b64(hashlib.sha256(spki).digest())
    root = {
        'mediaType': 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
        'tlogs': [{'baseUrl': 'https://rekor.sigstore.dev', 'hashAlgorithm': 'SHA2_256',
                   'publicKey': {'rawBytes': b64(spki), 'keyDetails': 'PKIX_ECDSA_P256_SHA_256',
                                 'validFor': {'start': '2021-01-12T11:53:27.000Z'}},
                   'logId': {'keyId': log_id}}],
        'certificateAuthorities': [{
            'subject': {'organization': 'sigstore.dev', 'commonName': 'sigstore'},
            'uri': 'https://fulcio.sigstore.dev',
            'certChain': {'certificates': [{'rawBytes': b64(cert)}]},
            'validFor': {'start': '2022-04-13T20:06:15.000Z'}}],
        'ctlogs': [{'baseUrl': 'https://ctfe.sigstore.dev/2022', 'hashAlgorithm': 'SHA2_256',
                    'publicKey': {'rawBytes': b64(spki), 'keyDetails': 'PKIX_ECDSA_P256_SHA_256',
                                  'validFor': {'start': '2022-10-20T00:00:00Z',
                                               'end': '2030-01-01T00:00:00Z'}},
                    'logId': {'keyId': log_id}}],
        'timestampAuthorities': [{'subject': {'organization': 'local', 'commonName': 'tsa'},
                                  'certChain': {'certificates': [{'rawBytes': b64(cert)}]},
                                  'validFor': {'start': '2023-01-01T00:00:00Z'}}],
    }
    items = variants(json.dumps(root, indent=1).encode(), 24)
    # The keyless tests' roots (tests/fixtures/verify/keyless/), when they are in the tree.
    kl = os.path.join(HERE, '..', 'fixtures', 'verify', 'keyless')
    for n in sorted(os.listdir(kl)) if os.path.isdir(kl) else []:
        if n.startswith('trusted_root'):
            with open(os.path.join(kl, n), 'rb') as f:
                items += variants(f.read(), 4)
    write('trusted_root', items)

    # Bundles: the keyless tests' bundles, when they are in the tree.
    items = []
    for n in sorted(os.listdir(kl)) if os.path.isdir(kl) else []:
        if n.endswith('.bundle.json'):
            with open(os.path.join(kl, n), 'rb') as f:
                items += variants(f.read(), 3)
    write('bundle', items)

    # The strict JSON reader: every kind of document above, and the traps it exists for.
    items = [preds[n] for n in vuln[:2]] + [raw, json.dumps(root).encode()]
    items += [b'{"a":1,"a":2}', b'{"a":{"b":1,"b":1}}', b'[{"x":{},"x":[]}]', b'{"a":"\\u0000"}',
              b'{"a":1} trailing', b'{"a":1}\n', b'"\xff\xfe"', b'{"a":"\x00"}', b'[' * 80 + b']' * 80,
              b'{"\\u0061":1,"a":2}', b'{"a":1,"b":{"a":1}}', b'', b'null', b'1e999', b'{"a":[1,2,{"a":3}]}']
    items = [v for i in items for v in variants(i, 2)]
    write('sigstore_json', items)

    body = {'apiVersion': '0.0.1', 'kind': 'hashedrekord',
            'spec': {'data': {'hash': {'algorithm': 'sha256', 'value': DIGEST_HEX}},
                     'signature': {'content': b64(b'\x30\x45' + bytes(69)),
                                   'publicKey': {'content': b64(b'-----BEGIN PUBLIC KEY-----\n')}}}}
    legacy = {'SignedEntryTimestamp': b64(b'\x30\x46' + bytes(70)),
              'Payload': {'body': b64(json.dumps(body).encode()), 'integratedTime': 1796119200,
                          'logIndex': 123456789, 'logID': hashlib.sha256(spki).hexdigest()}}
    items = variants(json.dumps(legacy).encode(), 16)
    legacy['Payload']['integratedTime'] = '1796119200'
    items.append(json.dumps(legacy).encode())
    legacy['Payload']['logID'] = 'zz'
    items.append(json.dumps(legacy).encode())
    write('tlog_legacy', items)

    mat = {'image': 'ghcr.io/acme/shop:1.4.0', 'digest': DIGEST,
           'manifestMediaType': 'application/vnd.oci.image.manifest.v1+json',
           'items': [
               {'kind': 'simplesigning', 'source': 'ghcr.io/acme/shop:sha256-%s.sig' % DIGEST_HEX,
                'mediaType': 'application/vnd.dev.cosign.simplesigning.v1+json',
                'data': b64(raw), 'signature': 'MEUCIQ==', 'certificate': '', 'chain': '',
                'rekorBundle': json.dumps(legacy)},
               {'kind': 'dsse', 'source': 'att', 'mediaType': 'application/vnd.dsse.envelope.v1+json',
                'data': b64(preds['slsa_v02.json']), 'predicateType': 'https://slsa.dev/provenance/v0.2'},
               {'kind': 'bundle', 'source': 'referrers',
                'mediaType': 'application/vnd.dev.sigstore.bundle.v0.3+json', 'data': b64(b'{}')},
               {'kind': 'sbom-attachment', 'source': 'sbom', 'mediaType': 'text/spdx', 'data': ''},
           ]}
    items = variants(json.dumps(mat).encode(), 20)
    mat['items'][0]['kind'] = 'nonsense'
    items.append(json.dumps(mat).encode())
    write('material', items)

    # VerificationPolicy specs (verifier.h's shape).
    key_pem = '-----BEGIN PUBLIC KEY-----\n' + b64(spki) + '\n-----END PUBLIC KEY-----\n'
    policy = {
        'images': ['ghcr.io/acme/**', 'registry.example/shop/*'],
        'namespaces': ['prod-*'],
        'mode': 'enforce',
        'authorities': [
            {'name': 'ci', 'key': {'data': key_pem}, 'tlog': 'ignore'},
            {'name': 'vault', 'key': {'secretRef': {'name': 'cosign-pub', 'namespace': 'sec',
                                                    'key': 'cosign.pub'}}},
            {'name': 'gha', 'keyless': {
                'trustedRoot': {'configMapRef': {'name': 'sigstore-root', 'key': 'trusted_root.json'}},
                'identities': [{'issuer': 'https://token.actions.githubusercontent.com',
                                'subjectRegExp': 'https://github\\.com/acme/.+/\\.github/workflows/release\\.yml@refs/tags/v.*'}],
                'insecureIgnoreSCT': False}, 'tlog': 'required'},
        ],
        'signature': {'authorities': ['ci', 'gha'], 'threshold': 1},
        'provenance': {'authorities': ['gha'],
                       'builders': [{'id': 'https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v2.0.0',
                                     'authorities': ['gha']}],
                       'buildTypes': ['https://actions.github.io/buildtypes/workflow/v1'],
                       'sourceRepository': 'https://github.com/acme/shop',
                       'sourceRefs': ['refs/heads/main'], 'matchCommit': True},
        'sbom': {'formats': ['cyclonedx', 'spdx']},
        'vulnerabilities': {'authorities': ['ci'], 'maxCritical': 0, 'maxHigh': 3, 'maxMedium': -1,
                            'ignoreUnfixed': False, 'unknownSeverity': 'high', 'maxScanAge': '168h',
                            'scanners': ['pkg:github/aquasecurity/trivy@'],
                            'allowlist': [{'id': 'CVE-2023-5678', 'package': 'openssl',
                                           'expires': '2027-01-01T00:00:00Z', 'reason': 'not reachable'}],
                            'vex': {'authorities': ['ci']}},
    }
    items = variants(json.dumps(policy).encode(), 40)
    items += [json.dumps({'authorities': [{'name': 'k', 'key': {'data': key_pem}}],
                          'signature': {}}).encode(),
              json.dumps({'vulnerabilities': {'maxScanAge': '7d'}}).encode(),
              json.dumps({'vulnerabilities': {'maxScanAge': '-1h'}}).encode(), b'{}', b'[]']
    write('policy', items)


if __name__ == '__main__':
    main()
