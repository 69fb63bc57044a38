"""A tiny test runner for the end-to-end suites: unittest underneath, and a
closing line "N passed, N failed" that CI reads; and the one way the suites
run a spacekeeper program."""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request


class Process:
    """A program under test: output to a log file, started once `started`
    (a regex) appears in it, health port in `health_port` when the match
    names one, stopped with SIGTERM and its exit status checked by the
    caller (a leak report under a sanitizer makes it non-zero)."""

    def __init__(self, cmd, started, what, seconds=10):
        self.log = tempfile.NamedTemporaryFile(prefix=f"sk-{what}-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL)
        self.final_log = None
        deadline = time.time() + seconds
        while time.time() < deadline:
            self.started = re.search(started, self.read_log())
            if self.started:
                if "health_port" in self.started.re.groupindex:
                    self.health_port = int(self.started.group("health_port"))
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"{what} exited: " + self.read_log())
            time.sleep(0.05)
        raise RuntimeError(f"{what} did not start: " + self.read_log())

    def read_log(self):
        if self.final_log is not None:
            return self.final_log
        with open(self.log.name) as f:
            return f.read()

    def health(self, path):
        """(status, body) from the plain-HTTP health port; (0, "") if it is gone."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}{path}", timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()
        except OSError:
            return 0, ""

    def stop(self, sig=signal.SIGTERM):
        """Sends `sig` (SIGTERM), waits, and returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.final_log is None:
            self.final_log = self.read_log()
            os.unlink(self.log.name)
        return self.proc.returncode


def main(module_name, label=None):
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[module_name])
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors)
    passed = result.testsRun - failed - len(result.skipped)
    print(f"{label or module_name}: {passed} passed, {failed} failed")
    sys.exit(1 if failed or result.testsRun == 0 else 0)
