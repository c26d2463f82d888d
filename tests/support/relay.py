"""A TCP relay on 127.0.0.1 that can go silent: the link looks up, but nothing gets through.

That is what a Wi-Fi dropout or a dead bastion looks like to the console (no FIN, no RST), and
only keepalives can tell. New connections pass again once the relay is thawed.
"""

from __future__ import annotations

import select
import socket
import threading


class FreezableRelay:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self._frozen = threading.Event()
        self._stop = threading.Event()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._threads = [threading.Thread(target=self._accept, name="relay-accept", daemon=True)]
        self._threads[0].start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.listener], [], [], 0.2)
            if not ready:
                continue
            client, _ = self.listener.accept()
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self._pairs.append((client, upstream))
            thread = threading.Thread(target=self._pump, args=(client, upstream), name="relay-pump", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        while not self._stop.is_set():
            if self._frozen.is_set():
                self._stop.wait(0.1)  # hold the bytes: nothing is read, nothing is closed
                continue
            try:
                ready, _, _ = select.select(list(peers), [], [], 0.1)
                for sock in ready:
                    if self._frozen.is_set():
                        break
                    data = sock.recv(65536)
                    if not data:
                        raise OSError("closed")
                    peers[sock].sendall(data)
            except (OSError, ValueError):  # either end closed, or the relay dropped the pair
                for s in peers:
                    s.close()
                return

    def freeze(self) -> None:
        """Existing connections stop passing bytes; they are not closed."""
        self._frozen.set()

    def drop_frozen_and_thaw(self) -> None:
        """The link comes back: the stuck connections are gone, new ones pass."""
        pairs, self._pairs = self._pairs, []
        self._frozen.clear()
        for a, b in pairs:
            for s in (a, b):
                try:
                    s.close()
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self.listener.close()
        self.drop_frozen_and_thaw()
