"""A test double of the Kubernetes API server for spacekeeper's client: TLS on
loopback, bearer tokens (or client certificates), and the real wire format.

- Lists: {"kind": "...List", "metadata": {"resourceVersion", "continue"}, "items"}; pages
  come from a snapshot taken at the first page, like etcd's consistent reads;
  a continue token older than the compaction point is 410 Expired.
- Watches: chunked streams of {"type", "object"} lines from a resourceVersion,
  BOOKMARK events when asked for, and an ERROR event with a 410 Status when the
  resourceVersion is older than the compaction point.
- Writes: POST (409 AlreadyExists), PUT with a resourceVersion precondition
  (409 Conflict), PATCH (merge and JSON patch; a resourceVersion in the
  patched object is a precondition too, 409 Conflict), DELETE; every error
  is a Status.
- Any API group: /api/v1/... and /apis/GROUP/VERSION/..., namespaced or not;
  labelSelector on lists and watches (key, key=value, key!=value, !key);
  the status subresource for workspaces, pods and daemonsets (writes to the
  object keep its status, writes to /status change only the status).
- Authorization: with `rules` set (RBAC PolicyRules: apiGroups, resources,
  verbs; "*" matches anything), a request they do not grant is 403 Forbidden
  with the API server's message ("... cannot list resource \"workspaces\" in
  API group \"workspace.jupyter.org\" at the cluster scope"). None grants all.
- expire_next_continue makes the next page asked for with a continue token
  410 Expired, as when etcd compacted the snapshot between pages.
- restart() drops every connection mid-stream and listens again on the same
  port with the same state, as an API server restart looks to a client.
- nodelay=True answers without Nagle's delay, as Go's net/http (the real API
  server) does: an answer is written as headers then body, and without it a
  GET on a kept-alive connection waits out the client's 40 ms delayed ACK.
  Off by default, which keeps the timing the older suites were written
  against.
- For clients that map kinds to resources (Helm): /version, discovery of the
  built-in resources below and of every stored CRD's, lists of the right
  apiVersion and kind, CRDs Established at once, PUT without a
  resourceVersion unconditional, and strategic merge patches applied as merge
  patches (lists replaced whole); Secrets in protobuf, as client-go's typed
  clients send them (Helm's release storage).
- Groups in CRD_GATED (wgpolicyk8s.io) are served only while a CRD of theirs
  is stored, as any custom resource is: before that, discovery of the group
  and every request for its resources are 404 NotFound.
"""
import base64
import copy
import http.server
import json
import socket
import ssl
import threading
import time
import urllib.parse
import uuid

import jsonpatch

GROUP_PREFIX = "/apis/workspace.jupyter.org/v1alpha1"
STATUS_SUBRESOURCE = {"workspaces", "pods", "daemonsets"}
KINDS = {"workspacetemplates": "WorkspaceTemplate", "workspaces": "Workspace", "pods": "Pod",
         "leases": "Lease", "events": "Event", "daemonsets": "DaemonSet", "nodes": "Node",
         "policyreports": "PolicyReport"}
# API groups that exist only through a stored CRD (see the module's docstring)
CRD_GATED = {"wgpolicyk8s.io"}
# group/version -> (resource, kind, namespaced) served besides the CRDs'
BUILTIN = {
    "v1": [("namespaces", "Namespace", False), ("secrets", "Secret", True),
           ("serviceaccounts", "ServiceAccount", True), ("services", "Service", True),
           ("configmaps", "ConfigMap", True), ("pods", "Pod", True), ("events", "Event", True),
           ("nodes", "Node", False)],
    "apps/v1": [("deployments", "Deployment", True), ("daemonsets", "DaemonSet", True)],
    "rbac.authorization.k8s.io/v1": [("clusterroles", "ClusterRole", False),
                                     ("clusterrolebindings", "ClusterRoleBinding", False),
                                     ("roles", "Role", True), ("rolebindings", "RoleBinding", True)],
    "policy/v1": [("poddisruptionbudgets", "PodDisruptionBudget", True)],
    "scheduling.k8s.io/v1": [("priorityclasses", "PriorityClass", False)],
    "admissionregistration.k8s.io/v1": [("mutatingwebhookconfigurations", "MutatingWebhookConfiguration", False),
                                        ("validatingwebhookconfigurations", "ValidatingWebhookConfiguration",
                                         False)],
    "apiextensions.k8s.io/v1": [("customresourcedefinitions", "CustomResourceDefinition", False)],
    "coordination.k8s.io/v1": [("leases", "Lease", True)],
}
VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


def label_selector_matches(selector, labels):
    """Kubernetes' equality-based selector: terms ANDed."""
    labels = labels or {}
    for term in filter(None, (t.strip() for t in (selector or "").split(","))):
        if "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k) == v:
                return False
        elif "==" in term or "=" in term:
            k, v = term.replace("==", "=").split("=", 1)
            if labels.get(k) != v:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


def _varint(buf, i):
    n = shift = 0
    while True:
        b = buf[i]
        n |= (b & 0x7F) << shift
        i, shift = i + 1, shift + 7
        if b < 0x80:
            return n, i


def _fields(buf):
    """(field number, value) of a protobuf message: ints and byte strings."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        wire = key & 7
        if wire == 0:
            v, i = _varint(buf, i)
        elif wire == 2:
            n, i = _varint(buf, i)
            v, i = buf[i:i + n], i + n
        else:
            size = 8 if wire == 1 else 4
            v, i = buf[i:i + size], i + size
        yield key >> 3, v


def _pb_map(entries):
    return {dict(_fields(e)).get(1, b"").decode(): dict(_fields(e)).get(2, b"") for e in entries}


def secret_from_protobuf(body):
    """A Secret sent as application/vnd.kubernetes.protobuf (client-go's typed
    clients: Helm's release storage) as the JSON the API would serve."""
    if body[:4] != b"k8s\x00":
        raise ValueError("not a Kubernetes protobuf envelope")
    envelope = dict(_fields(body[4:]))
    kind = dict(_fields(envelope[1])).get(2, b"").decode()
    if kind != "Secret":
        raise ValueError(f"protobuf {kind} is not supported")
    fields = list(_fields(envelope[2]))
    meta = list(_fields(next(v for f, v in fields if f == 1)))
    md = {name: v.decode() for f, v in meta for n, name in ((1, "name"), (3, "namespace"),
                                                              (6, "resourceVersion")) if f == n and v}
    for n, name in ((11, "labels"), (12, "annotations")):
        entries = [v for f, v in meta if f == n]
        if entries:
            md[name] = {k: v.decode() for k, v in _pb_map(entries).items()}
    obj = {"apiVersion": "v1", "kind": "Secret", "metadata": md,
           "data": {k: base64.b64encode(v).decode() for k, v in _pb_map([v for f, v in fields if f == 2]).items()}}
    for f, v in fields:
        if f == 3:
            obj["type"] = v.decode()
    return obj


def rules_allow(rules, verb, group, resource):
    """Does any RBAC PolicyRule grant verb on group/resource?"""
    def has(values, v):
        return "*" in values or v in values
    return any(has(r.get("verbs", []), verb) and has(r.get("apiGroups", []), group)
               and has(r.get("resources", []), resource) for r in rules)


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


class FakeAPIServer:
    def __init__(self, certs_dir, token="token-1", client_ca=None, bookmark_seconds=1.0,
                 user="system:serviceaccount:ci:spacekeeper-ci", nodelay=False):
        self.certs_dir = certs_dir
        self.token = token
        self.user = user         # who the token authenticates as, for 403 messages
        self.rules = None        # RBAC PolicyRules the user holds; None: everything
        self.expire_next_continue = False
        self.extra_tokens = set()  # more accepted tokens; requests record which one
        self.client_ca = client_ca
        self.bookmark_seconds = bookmark_seconds
        self.nodelay = nodelay   # TCP_NODELAY, as below
        self.cond = threading.Condition()
        self.rv = 1000
        self.objects = {}        # (resource, namespace, name) -> object
        self.events = []         # (rv, type, resource, object)
        self.compacted = 0       # resourceVersions below this are gone
        self.snapshots = {}      # continue-token id -> (rv, [objects])
        self.requests = []       # (method, path, query dict, authorized by)
        self.generation = 0      # bumped by stop(): open streams end
        self.writes = []         # (method, resource, namespace, name, who, time received) of every write
        self.server = None
        self.port = 0
        self._start(0)

    # ---- lifecycle ----

    def _start(self, port):
        owner = self

        class Handler(_Handler):
            api = owner

        srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        srv.daemon_threads = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(f"{self.certs_dir}/tls.crt", f"{self.certs_dir}/tls.key")
        if self.client_ca:
            ctx.load_verify_locations(self.client_ca)
            ctx.verify_mode = ssl.CERT_OPTIONAL
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        self.server = srv
        self.port = srv.server_address[1]
        self.connections = set()
        threading.Thread(target=srv.serve_forever, daemon=True).start()

    def stop(self):
        with self.cond:
            self.generation += 1
            self.cond.notify_all()
        self.server.shutdown()
        self.server.server_close()
        for sock in list(self.connections):
            try:
                sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            except OSError:
                pass

    def start(self):
        self._start(self.port)

    def restart(self, down_seconds=0.3):
        port = self.port
        self.stop()
        time.sleep(down_seconds)
        self._start(port)

    # ---- state, as the tests change it ----

    def _bump(self, kind, resource, obj):
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self.events.append((self.rv, kind, resource, copy.deepcopy(obj)))
        self.cond.notify_all()

    def put(self, obj, resource="workspacetemplates"):
        """Creates or replaces, as an admin's kubectl apply would."""
        obj = copy.deepcopy(obj)
        md = obj.setdefault("metadata", {})
        key = (resource, md.get("namespace", ""), md["name"])
        with self.cond:
            old = self.objects.get(key)
            md.setdefault("uid", old["metadata"]["uid"] if old else str(uuid.uuid4()))
            md.setdefault("creationTimestamp", old["metadata"].get("creationTimestamp") if old else
                          time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
            self.objects[key] = obj
            self._bump("MODIFIED" if old else "ADDED", resource, obj)
            return copy.deepcopy(obj)

    def delete(self, namespace, name, resource="workspacetemplates"):
        with self.cond:
            obj = self.objects.pop((resource, namespace, name))
            self._bump("DELETED", resource, obj)

    def put_many(self, objs, resource="workspacetemplates"):
        with self.cond:
            for obj in objs:
                obj = copy.deepcopy(obj)
                md = obj["metadata"]
                md.setdefault("uid", str(uuid.uuid4()))
                self.rv += 1
                md["resourceVersion"] = str(self.rv)
                self.objects[(resource, md.get("namespace", ""), md["name"])] = obj
            self.cond.notify_all()

    def compact(self):
        """Forgets history: older resourceVersions now get 410 Gone."""
        with self.cond:
            self.compacted = self.rv + 1
            self.events = []
            self.snapshots = {}

    def get(self, namespace, name, resource="workspacetemplates"):
        with self.cond:
            obj = self.objects.get((resource, namespace, name))
            return copy.deepcopy(obj) if obj else None

    def list_of(self, resource, namespace=None):
        with self.cond:
            return [copy.deepcopy(o) for (res, ns, _), o in self.objects.items()
                    if res == resource and (namespace is None or ns == namespace)]

    def events_for(self, name, reason=None):
        """Events whose involvedObject is `name` (and of `reason`)."""
        return [e for e in self.list_of("events") if e.get("involvedObject", {}).get("name") == name
                and (reason is None or e.get("reason") == reason)]

    def discovery(self):
        """group/version -> [(resource, kind, namespaced)]: the built-in ones
        and those of every stored CRD."""
        gvs = {gv: list(rs) for gv, rs in BUILTIN.items()}
        for crd in self.list_of("customresourcedefinitions"):
            spec = crd["spec"]
            for v in spec.get("versions", []):
                gvs.setdefault(f"{spec['group']}/{v['name']}", []).append(
                    (spec["names"]["plural"], spec["names"]["kind"], spec.get("scope") == "Namespaced"))
        return gvs

    def write_count(self, resource, method=None):
        return sum(1 for m, r, *_ in self.writes if r == resource and (method is None or m == method))

    def count(self, method, path_suffix, **query):
        return sum(1 for m, p, q, _ in self.requests
                   if m == method and p.endswith(path_suffix) and all(q.get(k) == v for k, v in query.items()))


class _Handler(http.server.BaseHTTPRequestHandler):
    api = None
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        if self.api.nodelay:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.api.connections.add(self.connection)

    def finish(self):
        try:
            super().finish()
        finally:
            self.api.connections.discard(self.connection)

    # ---- plumbing ----

    def send_json(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def fail(self, code, reason, message):
        self.send_json(code, status(code, reason, message))

    def authorized(self):
        auth = self.headers.get("Authorization", "")
        if auth == f"Bearer {self.api.token}":
            return "token"
        if auth.startswith("Bearer ") and auth[7:] in self.api.extra_tokens:
            return auth[7:]
        if self.api.client_ca and self.connection.getpeercert():
            return "client-certificate"
        return None

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if self.headers.get("Content-Type") == "application/vnd.kubernetes.protobuf":
            return secret_from_protobuf(raw)
        return json.loads(raw) if n else None

    def route(self):
        """(resource, namespace, name, subresource) from the path, or None."""
        path = urllib.parse.urlsplit(self.path).path
        parts = path.strip("/").split("/")
        if parts[:2] == ["api", "v1"]:
            parts = parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            parts = parts[3:]
        else:
            return None
        if not parts or not parts[0]:
            return None
        if parts[0] == "namespaces" and len(parts) >= 3:
            parts, ns = parts[2:], parts[1]
        else:
            ns = None
        return parts[0], ns, parts[1] if len(parts) > 1 else None, parts[2] if len(parts) > 2 else None

    def group_version(self):
        parts = urllib.parse.urlsplit(self.path).path.strip("/").split("/")
        return "v1" if parts[0] == "api" else "/".join(parts[1:3])

    def discover(self, path):
        """Answers /version and the discovery documents; False for other paths."""
        parts = path.strip("/").split("/")
        gvs = self.api.discovery()
        if path == "/version":
            body = {"major": "1", "minor": "31", "gitVersion": "v1.31.0", "platform": "linux/amd64"}
        elif path == "/api":
            body = {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        elif path == "/apis":
            groups = {}
            for gv in gvs:
                if "/" in gv:
                    g, v = gv.split("/")
                    groups.setdefault(g, []).append({"groupVersion": gv, "version": v})
            body = {"kind": "APIGroupList", "apiVersion": "v1",
                    "groups": [{"name": g, "versions": vs, "preferredVersion": vs[0]} for g, vs in groups.items()]}
        elif parts == ["api", "v1"] or (len(parts) == 3 and parts[0] == "apis"):
            gv = self.group_version()
            if gv not in gvs:
                return False
            body = {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
                    "resources": [{"name": r, "singularName": "", "namespaced": ns, "kind": k, "verbs": VERBS}
                                  for r, k, ns in gvs[gv]]}
        else:
            return False
        self.send_json(200, body)
        return True

    def kind_of(self, resource):
        kinds = {r: k for rs in self.api.discovery().values() for r, k, _ in rs}
        return kinds.get(resource) or KINDS.get(resource, "")

    def handle_any(self, method):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        who = self.authorized()
        self.api.requests.append((method, url.path, query, who))
        if not who:
            return self.fail(401, "Unauthorized", "Unauthorized")
        if method == "GET" and self.discover(url.path):
            return
        r = self.route()
        if not r:
            return self.fail(404, "NotFound", f"the server could not find the requested resource ({url.path})")
        resource, ns, name, self.subresource = r
        verb = self.verb(method, name, query)
        group = "" if url.path.startswith("/api/") else url.path.split("/")[2]
        if group in CRD_GATED and resource not in [res for res, _, _ in
                                                   self.api.discovery().get(self.group_version(), [])]:
            return self.fail(404, "NotFound", "the server could not find the requested resource")
        sub = f"{resource}/{self.subresource}" if self.subresource else resource
        if self.api.rules is not None and not rules_allow(self.api.rules, verb, group, sub):
            scope = f'in the namespace "{ns}"' if ns else "at the cluster scope"
            body = status(403, "Forbidden",
                          f'{resource}{"." + group if group else ""} is forbidden: User "{self.api.user}" '
                          f'cannot {verb} resource "{sub}" in API group "{group}" {scope}')
            body["details"] = {"group": group, "kind": resource}
            return self.send_json(403, body)
        if method == "GET" and name is None:
            if query.get("watch") in ("1", "true"):
                return self.watch(resource, ns, query)
            return self.list(resource, ns, query)
        if method != "GET":
            self.api.writes.append((method, resource, ns or "", name, who, time.time()))
        getattr(self, "do_" + method.lower() + "_object")(resource, ns, name)

    @staticmethod
    def verb(method, name, query):
        if method == "GET":
            if name is not None:
                return "get"
            return "watch" if query.get("watch") in ("1", "true") else "list"
        return {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}[method]

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_PATCH(self):
        self.handle_any("PATCH")

    def do_DELETE(self):
        self.handle_any("DELETE")

    # ---- verbs ----

    def matching(self, resource, ns, selector=None):
        return sorted((o for (res, ons, _), o in self.api.objects.items()
                       if res == resource and (ns is None or ons == ns)
                       and label_selector_matches(selector, o["metadata"].get("labels"))),
                      key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))

    def list(self, resource, ns, query):
        api = self.api
        limit = int(query.get("limit") or 0)
        with api.cond:
            if query.get("continue") and api.expire_next_continue:
                api.expire_next_continue = False
                api.snapshots.clear()
            if query.get("continue"):
                try:
                    tok = json.loads(base64.b64decode(query["continue"]))
                    rv, items = api.snapshots[tok["id"]]
                    offset = tok["offset"]
                except (KeyError, ValueError):
                    return self.fail(410, "Expired", "The provided continue parameter is too old to "
                                                     "display a consistent list result. You can start a new list "
                                                     "without the continue parameter.")
            else:
                rv, items, offset = api.rv, copy.deepcopy(self.matching(resource, ns, query.get("labelSelector"))), 0
        page = items[offset:offset + limit] if limit else items[offset:]
        md = {"resourceVersion": str(rv)}
        if limit and offset + limit < len(items):
            sid = str(uuid.uuid4())
            with api.cond:
                api.snapshots[sid] = (rv, items)
            md["continue"] = base64.b64encode(json.dumps({"id": sid, "offset": offset + limit}).encode()).decode()
            md["remainingItemCount"] = len(items) - offset - limit
        kind = self.kind_of(resource)
        self.send_json(200, {"kind": kind + "List" if kind else "List", "apiVersion": self.group_version(),
                             "metadata": md, "items": page})

    def watch(self, resource, ns, query):
        api = self.api
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def send(event):
            data = json.dumps(event).encode() + b"\n"
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        timeout = float(query.get("timeoutSeconds") or 1800)
        bookmarks = query.get("allowWatchBookmarks") == "true"
        deadline = time.time() + timeout
        rv_param = query.get("resourceVersion")
        selector = query.get("labelSelector")
        generation = api.generation
        try:
            with api.cond:
                if rv_param and int(rv_param) < api.compacted:
                    send({"type": "ERROR", "object": status(410, "Expired",
                                                            f"too old resource version: {rv_param} ({api.compacted})")})
                    self.wfile.write(b"0\r\n\r\n")
                    return
                if not rv_param or rv_param == "0":
                    for o in self.matching(resource, ns, selector):
                        send({"type": "ADDED", "object": o})
                    since = api.rv
                else:
                    since = int(rv_param)
            last_bookmark = time.time()
            while time.time() < deadline:
                with api.cond:
                    if api.generation != generation:
                        return  # cut mid-stream, as a dying server does
                    current = api.rv
                    pending = [e for e in api.events if e[0] > since and e[2] == resource
                               and (ns is None or e[3]["metadata"].get("namespace") == ns)
                               and label_selector_matches(selector, e[3]["metadata"].get("labels"))]
                    if not pending:
                        api.cond.wait(timeout=min(0.2, max(0.0, deadline - time.time())))
                for rv, kind, _, obj in pending:
                    send({"type": kind, "object": obj})
                    since = rv
                if bookmarks and time.time() - last_bookmark >= api.bookmark_seconds:
                    since = max(since, current)  # every event up to it has been sent
                    send({"type": "BOOKMARK", "object": {"kind": KINDS.get(resource, "Object"),
                                                         "metadata": {"resourceVersion": str(since)}}})
                    last_bookmark = time.time()
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            pass
        finally:
            self.close_connection = True

    def write(self, resource, cur, new):
        """Stores `new` in place of `cur` with the status subresource's rules."""
        if resource in STATUS_SUBRESOURCE:
            if self.subresource == "status":
                new = dict(cur, status=new.get("status"))
            elif "status" in cur:
                new["status"] = cur["status"]
            else:
                new.pop("status", None)
        return self.api.put(new, resource)

    def conflict(self, resource, name):
        return self.fail(409, "Conflict",
                         f'Operation cannot be fulfilled on {resource} "{name}": the object has been '
                         "modified; please apply your changes to the latest version and try again")

    def do_get_object(self, resource, ns, name):
        obj = self.api.objects.get((resource, ns or "", name))
        if not obj:
            # the API server names a core resource bare, others with their group
            gv = self.group_version()
            group = gv.split("/")[0] if "/" in gv else ""
            return self.fail(404, "NotFound", f'{resource}{"." + group if group else ""} "{name}" not found')
        self.send_json(200, obj)

    def do_post_object(self, resource, ns, name):
        obj = self.body()
        md = obj.setdefault("metadata", {})
        md["namespace"] = ns or ""
        if md.get("generateName") and not md.get("name"):
            md["name"] = md["generateName"] + uuid.uuid4().hex[:5]
        if (resource, ns or "", md["name"]) in self.api.objects:
            return self.fail(409, "AlreadyExists", f'{resource} "{md["name"]}" already exists')
        if resource == "customresourcedefinitions":
            obj["status"] = {"conditions": [{"type": t, "status": "True"} for t in ("NamesAccepted", "Established")],
                             "acceptedNames": obj["spec"]["names"]}
        self.send_json(201, self.api.put(obj, resource))

    def do_put_object(self, resource, ns, name):
        obj = self.body()
        obj.setdefault("metadata", {})["namespace"] = ns or ""
        with self.api.cond:
            cur = self.api.objects.get((resource, ns or "", name))
            if not cur:
                return self.fail(404, "NotFound", f'{resource} "{name}" not found')
            rv = obj["metadata"].get("resourceVersion")
            if rv and rv != cur["metadata"]["resourceVersion"]:  # none: an unconditional update
                return self.conflict(resource, name)
            self.send_json(200, self.write(resource, cur, obj))

    def do_patch_object(self, resource, ns, name):
        ctype = self.headers.get("Content-Type", "")
        patch = self.body()
        with self.api.cond:
            cur = self.api.objects.get((resource, ns or "", name))
            if not cur:
                return self.fail(404, "NotFound", f'{resource} "{name}" not found')
            if ctype in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
                new = merge_patch(cur, patch)
            elif ctype == "application/json-patch+json":
                try:
                    new = jsonpatch.JsonPatch(patch).apply(cur)
                except jsonpatch.JsonPatchException as e:
                    return self.fail(422, "Invalid", str(e))
            else:
                return self.fail(415, "UnsupportedMediaType", f"the media type {ctype} is not supported")
            # a resourceVersion the patch sets is a precondition, as on a PUT
            rv = (new.get("metadata") or {}).get("resourceVersion")
            if rv and rv != cur["metadata"]["resourceVersion"]:
                return self.conflict(resource, name)
            self.send_json(200, self.write(resource, cur, new))

    def do_delete_object(self, resource, ns, name):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))  # delete options: not kept in the stream
        if (resource, ns or "", name) not in self.api.objects:
            return self.fail(404, "NotFound", f'{resource} "{name}" not found')
        self.api.delete(ns or "", name, resource)
        self.send_json(200, status(200, "", "deleted") | {"status": "Success"})
