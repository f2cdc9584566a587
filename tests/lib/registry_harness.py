"""A real OCI registry for the trust gates' tests: Debian's /usr/bin/docker-registry (2.8.2) on
127.0.0.1, optionally behind htpasswd auth and/or TLS, plus helpers to build a small OCI image
and push it with Debian's /usr/bin/skopeo, and to put raw blobs and manifests over HTTP.

    from registry_harness import Registry, build_image, push_image
    with Registry(tmpdir, htpasswd=("user", "pw"), tls=True) as reg:
        digest = push_image(reg, "demo/app", "v1")            # "sha256:<hex>" of the manifest
        reg.host, reg.url, reg.ca_path                       # "127.0.0.1:PORT", "https://...", CA
        cfg = reg.docker_config(os.path.join(tmpdir, "config.json"))   # {"auths": {host: ...}}
        d = reg.put_blob("demo/app", b"{}")                  # upload a blob, returns its digest
        reg.put_manifest("demo/app", "v2", body, "application/vnd.oci.image.manifest.v1+json")
        body, content_type = reg.get_manifest("demo/app", "v1")
        reg.image(repo, digest)                              # "127.0.0.1:PORT/repo@sha256:..."

Registry(tmpdir=None, htpasswd=None, tls=False):
    tmpdir    a directory the registry owns (storage, config, certificates, logs; None: a new
              temporary directory, left for the caller to remove: .tmpdir)
    htpasswd  (user, password) to require HTTP basic auth (docker-registry answers 401 with
              `WWW-Authenticate: Basic realm=...`), or None for an open registry
    tls       serve HTTPS with a server certificate (IP 127.0.0.1, DNS localhost) issued by a test
              CA made with the openssl CLI; the CA's PEM is at .ca_path (None without TLS)
The constructor starts the registry and waits until /v2/ answers; .stop() (or leaving the `with`
block) stops it. docker-registry 2.8.2 has no referrers API: GET /v2/<repo>/referrers/<digest>
is a plain 404, so referrers live under the `sha256-<hex>` tag (see cosign_fixtures.py).

build_image(dest_dir, name="app", files=None) -> an OCI image layout directory (tag "latest")
push_image(registry, repo, tag, layout=None) -> the pushed manifest's digest (skopeo copy)

Python 3 standard library only.
"""

import base64
import gzip
import hashlib
import io
import json
import os
import shutil
import ssl
import subprocess
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

from harness import free_port, stop_process

REGISTRY_BIN = os.environ.get("TOLLGATE_REGISTRY_BIN", "/usr/bin/docker-registry")
SKOPEO_BIN = "/usr/bin/skopeo"
HTPASSWD_BIN = "/usr/bin/htpasswd"

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_ACCEPT = ", ".join([OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST])


def sha256_digest(data):
    """ "sha256:<hex>" of bytes."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


class _PortTaken(Exception):
    pass


def _run(args, **kw):
    """Runs a command, raising with its output when it fails."""
    p = subprocess.run(args, capture_output=True, **kw)
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s %s" % (
            args[0], p.returncode, p.stdout.decode(errors="replace"),
            p.stderr.decode(errors="replace")))
    return p.stdout


def make_ca_and_server_cert(dirpath):
    """A test CA and a server certificate for 127.0.0.1/localhost, with the openssl CLI.
    Returns (ca_pem_path, cert_path, key_path)."""
    os.makedirs(dirpath, exist_ok=True)
    ca_key = os.path.join(dirpath, "ca.key")
    ca_crt = os.path.join(dirpath, "ca.crt")
    key = os.path.join(dirpath, "server.key")
    csr = os.path.join(dirpath, "server.csr")
    crt = os.path.join(dirpath, "server.crt")
    ext = os.path.join(dirpath, "server.ext")
    _run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
          "-nodes", "-keyout", ca_key, "-out", ca_crt, "-days", "2", "-subj",
          "/CN=tollgate test registry CA", "-addext", "basicConstraints=critical,CA:TRUE",
          "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    _run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
          "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"])
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    _run(["openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key,
          "-CAcreateserial", "-out", crt, "-days", "2", "-extfile", ext])
    return ca_crt, crt, key


class Registry:
    """A docker-registry on 127.0.0.1 (see the module's head comment)."""

    def __init__(self, tmpdir=None, htpasswd=None, tls=False):
        self.tmpdir = tmpdir or tempfile.mkdtemp(prefix="tollgate-registry-")
        self.creds = tuple(htpasswd) if htpasswd else None
        self.tls = tls
        self.ca_path = None
        self.proc = None
        self._log = None
        os.makedirs(self.tmpdir, exist_ok=True)
        self._extra = []
        if tls:
            self.ca_path, crt, key = make_ca_and_server_cert(os.path.join(self.tmpdir, "tls"))
            self._extra += ["  tls:", "    certificate: %s" % crt, "    key: %s" % key]
        if self.creds:
            entry = _run([HTPASSWD_BIN, "-Bbn", self.creds[0], self.creds[1]]).decode()
            path = os.path.join(self.tmpdir, "htpasswd")
            with open(path, "w") as f:
                f.write(entry.strip() + "\n")
            self._auth = ["auth:", "  htpasswd:", "    realm: tollgate-test", "    path: %s" % path]
        else:
            self._auth = []
        self.config_path = os.path.join(self.tmpdir, "config.yml")
        # A free port may be taken before the registry binds it: try a few.
        for attempt in range(5):
            self._configure(free_port())
            try:
                self.start()
                return
            except _PortTaken:
                continue
        raise RuntimeError("docker-registry could not bind a port: " + self.log())

    def _configure(self, port):
        self.port = port
        self.host = "127.0.0.1:%d" % port
        self.url = ("https://" if self.tls else "http://") + self.host
        storage = os.path.join(self.tmpdir, "storage")
        os.makedirs(storage, exist_ok=True)
        lines = [
            "version: 0.1",
            "log:",
            "  level: warn",
            "  accesslog:",
            "    disabled: true",
            "storage:",
            "  filesystem:",
            "    rootdirectory: %s" % storage,
            "  delete:",
            "    enabled: true",
            "http:",
            "  addr: %s" % self.host,
            "  secret: tollgate-test-secret",
        ] + self._extra + self._auth
        with open(self.config_path, "w") as f:
            f.write("\n".join(lines) + "\n")

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self):
        """Starts docker-registry (again, after stop()) and waits until /v2/ answers."""
        self._log = open(os.path.join(self.tmpdir, "registry.log"), "ab")
        self.proc = subprocess.Popen([REGISTRY_BIN, "serve", self.config_path],
                                     stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = self.log()
                self.stop()
                if "address already in use" in log:
                    raise _PortTaken()
                raise RuntimeError("docker-registry exited: " + log)
            try:
                status, _, _ = self.request("GET", "/v2/", auth=False)
                if status in (200, 401):
                    return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("docker-registry did not answer within 30 s: " + self.log())

    def stop(self):
        stop_process(self.proc, 10)
        self.proc = None
        if self._log:
            self._log.close()
            self._log = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def log(self):
        try:
            with open(os.path.join(self.tmpdir, "registry.log"), "rb") as f:
                return f.read().decode(errors="replace")[-4000:]
        except OSError:
            return ""

    # --- helpers -----------------------------------------------------------------------------
    def image(self, repo, digest):
        """The pinned reference "127.0.0.1:PORT/repo@sha256:<hex>"."""
        return "%s/%s@%s" % (self.host, repo, digest)

    def docker_config(self, path, key=None, form="auth"):
        """Writes a docker config JSON holding the registry's credentials and returns path.
        key: the "auths" key (default the host; try "https://HOST/v1/"); form: "auth" (base64
        user:password) or "username" (username and password fields)."""
        user, pw = self.creds or ("", "")
        if form == "auth":
            entry = {"auth": base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()}
        else:
            entry = {"username": user, "password": pw}
        with open(path, "w") as f:
            json.dump({"auths": {key or self.host: entry}}, f)
        return path

    def _context(self):
        if not self.tls:
            return None
        return ssl.create_default_context(cafile=self.ca_path)

    def request(self, method, path_or_url, body=None, headers=None, auth=True):
        """One HTTP request to the registry (basic auth when the registry has credentials and
        auth is true). Returns (status, headers dict with lower-case names, body bytes)."""
        url = path_or_url if "://" in path_or_url else self.url + path_or_url
        h = dict(headers or {})
        if auth and self.creds:
            tok = base64.b64encode(("%s:%s" % self.creds).encode()).decode()
            h["Authorization"] = "Basic " + tok
        req = urllib.request.Request(url, data=body, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=30, context=self._context()) as r:
                return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
        except urllib.error.HTTPError as e:
            return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()

    def put_blob(self, repo, data):
        """Uploads a blob (monolithic: POST then PUT ?digest=). Returns its digest."""
        digest = sha256_digest(data)
        status, _, _ = self.request("HEAD", "/v2/%s/blobs/%s" % (repo, digest))
        if status == 200:
            return digest
        status, headers, body = self.request("POST", "/v2/%s/blobs/uploads/" % repo, body=b"")
        if status != 202:
            raise RuntimeError("blob upload start: %d %s" % (status, body[:200]))
        loc = urllib.parse.urljoin(self.url + "/", headers["location"])
        loc += ("&" if "?" in loc else "?") + "digest=" + urllib.parse.quote(digest)
        status, _, body = self.request("PUT", loc, body=data,
                                       headers={"Content-Type": "application/octet-stream"})
        if status != 201:
            raise RuntimeError("blob upload: %d %s" % (status, body[:200]))
        return digest

    def put_manifest(self, repo, ref, body, media_type=OCI_MANIFEST):
        """PUTs a manifest (bytes, stored byte for byte) under a tag or digest. Returns its
        digest."""
        status, _, resp = self.request("PUT", "/v2/%s/manifests/%s" % (repo, ref), body=body,
                                       headers={"Content-Type": media_type})
        if status != 201:
            raise RuntimeError("manifest put %s:%s: %d %s" % (repo, ref, status, resp[:300]))
        return sha256_digest(body)

    def get_manifest(self, repo, ref):
        """GETs a manifest with the four-type Accept header. Returns (bytes, content type), or
        (None, None) on 404."""
        status, headers, body = self.request("GET", "/v2/%s/manifests/%s" % (repo, ref),
                                             headers={"Accept": MANIFEST_ACCEPT})
        if status == 404:
            return None, None
        if status != 200:
            raise RuntimeError("manifest get %s:%s: %d %s" % (repo, ref, status, body[:200]))
        return body, headers.get("content-type")

    def delete_manifest(self, repo, digest):
        """Deletes a manifest by digest (and with it every tag pointing at it)."""
        status, _, body = self.request("DELETE", "/v2/%s/manifests/%s" % (repo, digest))
        if status not in (202, 404):
            raise RuntimeError("manifest delete: %d %s" % (status, body[:200]))


def _tar_gz(files):
    """A deterministic tar of {path: bytes}, and its gzip. Returns (tar bytes, gz bytes)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size = len(files[name])
            info.mtime = 0
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(files[name]))
    tar_bytes = raw.getvalue()
    gz = io.BytesIO()
    with gzip.GzipFile(fileobj=gz, mode="wb", mtime=0) as g:
        g.write(tar_bytes)
    return tar_bytes, gz.getvalue()


def build_image(dest_dir, name="app", files=None):
    """Builds a one-layer OCI image layout in dest_dir/<name> (tag "latest") and returns its
    path. files: {path: bytes} for the layer (default a file naming the image, so that images of
    different names have different digests)."""
    layout = os.path.join(dest_dir, name)
    if os.path.exists(layout):
        shutil.rmtree(layout)
    blobs = os.path.join(layout, "blobs", "sha256")
    os.makedirs(blobs)

    def put(data):
        d = sha256_digest(data)
        with open(os.path.join(blobs, d[7:]), "wb") as f:
            f.write(data)
        return d

    tar_bytes, gz = _tar_gz(files or {"etc/image-name": ("image %s\n" % name).encode()})
    layer_digest = put(gz)
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["/bin/true"]},
        "rootfs": {"type": "layers", "diff_ids": [sha256_digest(tar_bytes)]},
    }, sort_keys=True).encode()
    config_digest = put(config)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER_GZIP, "digest": layer_digest, "size": len(gz)}],
    }).encode()
    manifest_digest = put(manifest)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [{
            "mediaType": OCI_MANIFEST, "digest": manifest_digest, "size": len(manifest),
            "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}, f)
    return layout


def push_image(registry, repo, tag, layout=None):
    """Pushes an OCI layout (default: build_image(registry.tmpdir, <repo's last part>)) to
    registry as repo:tag with skopeo copy. Returns the manifest digest "sha256:<hex>"."""
    work = os.path.join(registry.tmpdir, "skopeo")
    os.makedirs(work, exist_ok=True)
    if layout is None:
        layout = build_image(os.path.join(registry.tmpdir, "images"), repo.replace("/", "_"))
    policy = os.path.join(work, "policy.json")
    with open(policy, "w") as f:
        json.dump({"default": [{"type": "insecureAcceptAnything"}]}, f)
    digestfile = os.path.join(work, "digest")
    args = [SKOPEO_BIN, "--policy", policy, "copy", "--quiet", "--digestfile", digestfile]
    if registry.tls:
        certs = os.path.join(work, "certs")
        os.makedirs(certs, exist_ok=True)
        shutil.copy(registry.ca_path, os.path.join(certs, "ca.crt"))
        args += ["--dest-cert-dir", certs]
    else:
        args += ["--dest-tls-verify=false"]
    if registry.creds:
        args += ["--dest-creds", "%s:%s" % registry.creds]
    args += ["oci:%s:latest" % layout, "docker://%s/%s:%s" % (registry.host, repo, tag)]
    env = dict(os.environ, HOME=work, XDG_RUNTIME_DIR=work, REGISTRY_AUTH_FILE=os.path.join(
        work, "auth.json"))
    _run(args, env=env)
    with open(digestfile) as f:
        return f.read().strip()
