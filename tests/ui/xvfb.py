"""A private X server for the app's window tests: Xvfb started directly, not through xvfb-run.

xvfb-run's own clean-up can fail ("problem while cleaning up temporary directory") and then it exits 5
whatever the app returned; a CI run lost ui.app.badmodel to that. Started here, the app is our child
and its exit code is its own.
"""
import os
import select
import subprocess
import tempfile
import time

SCREEN = "1600x1000x24"


class Xvfb:
    """with Xvfb() as env: subprocess.run(cmd, env=env) -- env is os.environ plus DISPLAY."""

    def __init__(self, base_env=None, timeout=30.0):
        self.base_env = dict(base_env if base_env is not None else os.environ)
        self.timeout = timeout
        self.proc = None
        self.log = None

    def __enter__(self):
        # the server's messages go to a file: a pipe nobody reads could fill and stall the server
        self.log = tempfile.TemporaryFile()
        r, w = os.pipe()
        try:
            # -displayfd: the server picks a free display itself and writes its number once it
            # listens, so parallel runs never race for ":99" and we never connect before it is ready.
            self.proc = subprocess.Popen(["Xvfb", "-displayfd", str(w), "-screen", "0", SCREEN, "-nolisten", "tcp"],
                                         pass_fds=(w,), stdout=subprocess.DEVNULL, stderr=self.log)
            os.close(w)
            w = -1
            buf, t0 = b"", time.time()
            while not buf.endswith(b"\n"):
                left = self.timeout - (time.time() - t0)
                ready, _, _ = select.select([r], [], [], max(left, 0))
                chunk = os.read(r, 64) if ready else b""
                if not chunk:
                    raise RuntimeError(f"Xvfb did not start (waited up to {self.timeout:.0f} s): {self._stop().strip()}")
                buf += chunk
        except BaseException:
            self._stop()  # __exit__ does not run when __enter__ raises: no server or log left behind
            raise
        finally:
            os.close(r)
            if w >= 0:
                os.close(w)
        env = dict(self.base_env)
        env.pop("WAYLAND_DISPLAY", None)
        env["DISPLAY"] = ":" + buf.decode().strip()
        return env

    def _stop(self):
        """Ends the server (if running) and returns what it wrote to stderr."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        err = ""
        if self.log is not None:
            self.log.seek(0)
            err = self.log.read().decode(errors="replace")
            self.log.close()
            self.log = None
        return err

    def __exit__(self, *exc):
        self._stop()
        return False
