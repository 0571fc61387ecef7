"""A real HTTP receiver on loopback for the webhook tests: records every request, answers as told."""
import http.server
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes

    @property
    def event_type(self):
        return self.headers["X-Tracker-Event-Type"]

    @property
    def event_id(self):
        return self.headers["X-Tracker-Event-Id"]


@dataclass
class Behaviour:
    """What the receiver answers: `statuses` are used up first (one per request), then `status`."""

    status: int = 200
    statuses: list = field(default_factory=list)
    delay: float = 0.0
    delays: list = field(default_factory=list)  # used up first, one per request, like statuses
    headers: dict = field(default_factory=dict)
    fail_subjects: set = field(default_factory=set)  # body substrings answered 503
    answer_bytes: int = 2  # a large value: an answer that keeps coming (the worker must stop reading)


class Receiver:
    def __init__(self, port=0):
        self.requests = []
        self.behaviour = Behaviour()
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.requests.append(Received(self.path, dict(self.headers), body))
                    status = receiver._status_for(body)
                    delay = receiver.behaviour.delays.pop(0) if receiver.behaviour.delays else receiver.behaviour.delay
                time.sleep(delay)
                self.send_response(status)
                for name, value in receiver.behaviour.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(receiver.behaviour.answer_bytes))
                self.end_headers()
                self._write_answer(receiver.behaviour.answer_bytes)

            def _write_answer(self, size):
                try:
                    while size > 0:
                        chunk = b"o" * min(size, 65536)
                        self.wfile.write(chunk)
                        size -= len(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the worker hung up: what it was meant to do

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _status_for(self, body):
        if any(text.encode() in body for text in self.behaviour.fail_subjects):
            return 503
        if self.behaviour.statuses:
            return self.behaviour.statuses.pop(0)
        return self.behaviour.status

    @property
    def port(self):
        return self.server.server_address[1]

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/hooks"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
