#!/usr/bin/python3
"""kubesim: tollgate's local Kubernetes API-server emulator (entry point and command line).

Usage (other tests and tools rely on exactly this):

    python3 tests/kubesim/kubesim.py --port 0 --kubeconfig OUT [--tls] [--token TOKEN]
        [--token NAME=TOKEN[:GROUP,GROUP]]... [--client-cert-auth] [--watch-history N]
        [--deployment-ready-delay SECONDS] [--enable-admission-plugins PLUGIN,...]
        [--watch-delay MS] [--watch-jitter MS] [--request-jitter MS] [--seed N]

It listens on 127.0.0.1 only, writes a kubeconfig that kubectl and tollgate both use (cluster
server, certificate-authority-data when --tls, the user's bearer token when --token, the user's
client certificate and key when --client-cert-auth, one context
that is the current-context, namespace default), prints exactly one line ``ready <url>`` on stdout
(flushed) once it serves, and serves until SIGTERM or SIGINT, then exits 0.

Identities (rbac.py): `--token TOKEN` is a superuser (user kubesim-user in system:masters), the
kubeconfig's token; `--token alice=T2:dev,qa` adds user alice in groups dev and qa (and
system:authenticated), authorized by RBAC; each such user also gets a kubeconfig user and context
named after it (`kubectl --context alice`). When only named tokens are given the first is the
kubeconfig's. ServiceAccount tokens come from `kubectl create token SA -n NS`.

Extra options (not needed by most callers):
  --enable-admission-plugins OwnerReferencesPermissionEnforcement
                               setting or changing ownerReferences needs `delete` on the object
                               (updates) and a new blockOwnerDeletion needs `update` on the
                               owner's finalizers subresource, as the real plugin
  --bookmark-interval SECONDS  how often a watch with allowWatchBookmarks gets a BOOKMARK event
                               (the real server: about one minute; default 60)
  --client-cert-auth           (with --tls) the generated CA also signs a client certificate
                               (CN kubesim-user, O system:masters), written to OUT.client.crt and
                               OUT.client.key (0600); the kubeconfig's user gets it as
                               client-certificate-data / client-key-data (beside the token when
                               --token is given); the server asks for client certificates and
                               accepts a verified one instead of the token
  --watch-delay MS             deliver each watch event no earlier than its commit + MS ms +
  --watch-jitter MS            uniform(0, jitter) ms, and never before the write's response
                               was sent (a real server's etcd -> cacher -> watcher lag);
                               events on one watch keep their order (default 0: at once)
  --request-jitter MS          each request waits uniform(0, MS) ms after it was read and
                               authenticated, so concurrent requests are answered in any order
  --seed N                     seed of the two random draws above (default: random); the seed
                               is printed on stderr at start as ``kubesim: seed N``
The same options can be changed at run time: POST /_kubesim/orderings {"watchDelayMs": ..,
"watchJitterMs": .., "requestJitterMs": .., "seed": ..}.

Python 3 standard library only; the `openssl` command-line tool generates the TLS material.
"""

import argparse
import base64
import json
import os
import signal
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))


if HERE not in sys.path:
    sys.path.insert(0, HERE)

import server as kserver  # noqa: E402


def write_private(path, data):
    """Write ``data`` (bytes) to ``path`` with mode 0600, atomically."""
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def write_kubeconfig(path, url, ca_pem, token, client_cert=None, client_key=None, named=()):
    """Write a kubeconfig for ``url``. JSON is valid YAML, so kubectl and libyaml both read it.
    ``named``: (user name, token) pairs that get a user and a context of that name each."""
    cluster = {"server": url}
    if ca_pem is not None:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    user = {}
    if token is not None:
        user["token"] = token
    if client_cert is not None:
        user["client-certificate-data"] = base64.b64encode(client_cert).decode()
        user["client-key-data"] = base64.b64encode(client_key).decode()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": "kubesim", "cluster": cluster}],
        "users": [{"name": "kubesim-user", "user": user}],
        "contexts": [{"name": "kubesim", "context": {"cluster": "kubesim", "user": "kubesim-user",
                                                     "namespace": "default"}}],
        "current-context": "kubesim",
    }
    for name, tok in named:
        if any(u["name"] == name for u in config["users"]):
            continue
        config["users"].append({"name": name, "user": {"token": tok}})
        config["contexts"].append({"name": name, "context": {"cluster": "kubesim", "user": name,
                                                             "namespace": "default"}})
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="kubesim", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True, help="TCP port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--kubeconfig", required=True, help="where to write the kubeconfig")
    parser.add_argument("--tls", action="store_true", help="serve HTTPS with a CA generated at start")
    parser.add_argument("--token", action="append", default=[],
                        help="TOKEN: a superuser's bearer token (user kubesim-user, group "
                        "system:masters; the kubeconfig's); NAME=TOKEN[:GROUP,GROUP]: user NAME "
                        "in those groups (repeatable)")
    parser.add_argument("--enable-admission-plugins", default="",
                        help="comma-separated admission plugins to enable "
                        "(OwnerReferencesPermissionEnforcement)")
    parser.add_argument("--client-cert-auth", action="store_true",
                        help="(with --tls) accept client certificates signed by the generated CA "
                        "and put one in the kubeconfig")
    parser.add_argument("--watch-history", type=int, default=1000,
                        help="events kept for watches and resourceVersion lists (default 1000)")
    parser.add_argument("--deployment-ready-delay", type=float, default=0.0,
                        help="seconds before a Deployment's status follows its spec (default 0)")
    parser.add_argument("--bookmark-interval", type=float, default=60.0,
                        help="seconds between watch BOOKMARK events (default 60)")
    parser.add_argument("--watch-delay", type=float, default=0.0, metavar="MS",
                        help="milliseconds between a write's commit and its watch events (default 0)")
    parser.add_argument("--watch-jitter", type=float, default=0.0, metavar="MS",
                        help="plus uniform(0, MS) milliseconds per event and watch (default 0)")
    parser.add_argument("--request-jitter", type=float, default=0.0, metavar="MS",
                        help="each request waits uniform(0, MS) milliseconds before it is "
                        "processed (default 0)")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed of the jitter draws (default: random, printed on stderr)")
    args = parser.parse_args(argv)
    for flag in ("watch_delay", "watch_jitter", "request_jitter"):
        if getattr(args, flag) < 0:
            parser.error("--%s must not be negative" % flag.replace("_", "-"))
    if args.watch_history < 1:
        parser.error("--watch-history must be at least 1")
    if args.client_cert_auth and not args.tls:
        parser.error("--client-cert-auth needs --tls")

    import rbac as krbac
    superuser, tokens = None, []
    for value in args.token:
        try:
            tok, user = krbac.parse_token_flag(value)
        except ValueError as e:
            parser.error(str(e))
        if "=" not in value and superuser is None:
            superuser = tok
        else:
            tokens.append((tok, user))
    plugins = [p for p in args.enable_admission_plugins.split(",") if p]
    for p in plugins:
        if p not in krbac.ADMISSION_PLUGINS:
            parser.error("--enable-admission-plugins: unknown plugin %r (kubesim has: %s)"
                         % (p, ", ".join(krbac.ADMISSION_PLUGINS)))
    kube_token = superuser if superuser is not None else (tokens[0][0] if tokens else None)
    sim = kserver.KubeSim(port=args.port, tls=args.tls, token=superuser, tokens=tokens,
                          admission_plugins=plugins,
                          watch_history=args.watch_history,
                          deployment_ready_delay=args.deployment_ready_delay,
                          bookmark_interval=args.bookmark_interval,
                          client_cert_auth=args.client_cert_auth,
                          watch_delay_ms=args.watch_delay, watch_jitter_ms=args.watch_jitter,
                          request_jitter_ms=args.request_jitter, seed=args.seed)
    o = sim.orderings()
    sys.stderr.write("kubesim: seed %d (watch delay %g ms, watch jitter %g ms, request jitter %g ms)\n"
                     % (o["seed"], o["watchDelayMs"], o["watchJitterMs"], o["requestJitterMs"]))
    sys.stderr.flush()
    if args.client_cert_auth:
        write_private(args.kubeconfig + ".client.crt", sim.client_cert_pem)
        write_private(args.kubeconfig + ".client.key", sim.client_key_pem)
    write_kubeconfig(args.kubeconfig, sim.url, sim.ca_pem, kube_token,
                     sim.client_cert_pem, sim.client_key_pem,
                     named=[(u.name, t) for t, u in tokens])

    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sim.start()
    sys.stdout.write("ready %s\n" % sim.url)
    sys.stdout.flush()
    while not stop.wait(0.5):
        pass
    sim.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
