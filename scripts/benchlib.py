"""What the benchmark drivers share: nginx as a loopback reference server,
and reading a process's CPU time and memory from /proc."""
import os
import re
import socket
import subprocess
import time

TICKS = os.sysconf("SC_CLK_TCK")


def wait_port(port, seconds=10):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def start_nginx(work, port, body, certs=None, workers=1):
    """nginx on 127.0.0.1:port answering every request with `body` (JSON,
    no single quotes), over TLS with certs/tls.{crt,key} when given."""
    assert "'" not in body, body
    tls = (f"ssl;\n    ssl_certificate {certs}/tls.crt;\n    ssl_certificate_key {certs}/tls.key;\n"
           "    ssl_protocols TLSv1.2 TLSv1.3") if certs else ""
    conf = os.path.join(work, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""worker_processes {workers};
pid {work}/nginx.pid;
error_log {work}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {work}; proxy_temp_path {work}; fastcgi_temp_path {work};
  uwsgi_temp_path {work}; scgi_temp_path {work};
  keepalive_requests 10000000;
  server {{
    listen 127.0.0.1:{port} {tls};
    location / {{ default_type application/json; return 200 '{body}'; }}
  }}
}}
""")
    proc = subprocess.Popen(["nginx", "-p", work, "-c", conf, "-g", "daemon off;"], stderr=subprocess.DEVNULL)
    wait_port(port)
    return proc


def cpu_seconds(pid):
    """User + system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1))
