"""A CURVE client written with another binding (pyzmq, which links its own
libzmq and libsodium): asks a canopy broker for a CHP snapshot over CURVE.

usage: curve_interop.py ENDPOINT SERVER_PUB_FILE CLIENT_KEY_FILE
prints "admitted <frames>" when the broker answered, "refused <status>"
when it refused the handshake; exits 1 on anything else.
"""
import re
import sys

import zmq
from zmq.utils.monitor import recv_monitor_message


def key(path, name):
    text = open(path).read()
    found = re.search(name + r'\s*=\s*"([^"]{40})"', text)
    if not found:
        sys.exit(f"no {name} key in {path}")
    return found.group(1).encode()


def main():
    endpoint, server_pub, client_key = sys.argv[1:4]
    ctx = zmq.Context()
    dealer = ctx.socket(zmq.DEALER)
    dealer.linger = 0
    dealer.curve_serverkey = key(server_pub, "public")
    dealer.curve_publickey = key(client_key, "public")
    dealer.curve_secretkey = key(client_key, "secret")
    monitor = dealer.get_monitor_socket(
        zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_HANDSHAKE_FAILED_AUTH
    )
    dealer.connect(endpoint)
    if not monitor.poll(20000):
        sys.exit("no handshake outcome within 20 s")
    event = recv_monitor_message(monitor)
    if event["event"] == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
        print(f"refused {event['value']}")
        return
    # Admitted: a CHP snapshot of the whole state space (RFC 12).
    dealer.send_multipart([b"ICANHAZ?", b"/"])
    frames = 0
    while True:
        if not dealer.poll(20000):
            sys.exit("admitted but no snapshot within 20 s")
        msg = dealer.recv_multipart()
        frames += 1
        if msg[0] == b"KTHXBAI":
            print(f"admitted {frames}")
            return


if __name__ == "__main__":
    main()
