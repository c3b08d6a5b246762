#!/usr/bin/env python3
"""A canopy node in Python, using only the standard library's ctypes.

    sensor.py LIBRARY BROKER NAME GROUP

LIBRARY is the path of libcanopy_client.so. Joins GROUP as NAME, writes and
reads state, publishes a reading, waits for one command, and prints a line
per step.
"""
import ctypes
import json
import sys

OK, ERR_NOT_FOUND, ERR_TIMEOUT = 0, -4, -2
TARGET_GROUP, EVENT_MESSAGE = 1, 1
TTL_DEFAULT = -1
# The canopy.h this program was written against (CANOPY_VERSION_NUMBER).
HEADER_VERSION = 0x000100


class Options(ctypes.Structure):
    """canopy_options as canopy.h declares it. The library reads and writes
    only the first `size` bytes (ctypes.sizeof of this class), so a shorter
    declaration stays safe: the missing fields take their defaults."""
    _fields_ = [
        ("size", ctypes.c_size_t),
        ("broker", ctypes.c_char_p),
        ("name", ctypes.c_char_p),
        ("group", ctypes.c_char_p),
        ("connect_timeout_ms", ctypes.c_uint32),
        ("request_timeout_ms", ctypes.c_uint32),
        ("server_key", ctypes.c_char_p),
        ("public_key", ctypes.c_char_p),
        ("secret_key", ctypes.c_char_p),
    ]


def load(path):
    lib = ctypes.CDLL(path)
    vp, cp, i = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
    lib.canopy_version.restype = cp
    lib.canopy_last_error.restype = cp
    lib.canopy_version_number.restype = ctypes.c_uint32
    lib.canopy_check_version.argtypes = [ctypes.c_uint32]
    lib.canopy_strerror.argtypes = [i]
    lib.canopy_strerror.restype = cp
    lib.canopy_options_size.restype = ctypes.c_size_t
    lib.canopy_options_init.argtypes = [ctypes.POINTER(Options), ctypes.c_size_t]
    lib.canopy_sync_subscriptions.argtypes = [vp, i]
    lib.canopy_connect.argtypes = [ctypes.POINTER(Options), ctypes.POINTER(vp)]
    lib.canopy_close.argtypes = [vp]
    lib.canopy_close.restype = None
    lib.canopy_subscribe.argtypes = [vp, cp]
    lib.canopy_publish_json.argtypes = [vp, i, cp, cp, cp]
    lib.canopy_store_open.argtypes = [vp, cp, ctypes.POINTER(vp)]
    lib.canopy_store_close.argtypes = [vp]
    lib.canopy_store_close.restype = None
    lib.canopy_put_json.argtypes = [vp, cp, cp, cp, ctypes.c_int64, ctypes.POINTER(ctypes.c_uint64)]
    # Returned strings are owned by us: keep them as void* to free them.
    lib.canopy_get_json.argtypes = [vp, cp, ctypes.POINTER(vp)]
    lib.canopy_string_free.argtypes = [vp]
    lib.canopy_string_free.restype = None
    lib.canopy_incr.argtypes = [vp, cp, cp, ctypes.c_int64, ctypes.POINTER(ctypes.c_int64)]
    lib.canopy_next_event.argtypes = [vp, i, ctypes.POINTER(vp)]
    lib.canopy_event_kind.argtypes = [vp]
    lib.canopy_event_topic.argtypes = [vp]
    lib.canopy_event_topic.restype = cp
    lib.canopy_event_publisher.argtypes = [vp]
    lib.canopy_event_publisher.restype = cp
    lib.canopy_event_payload_json.argtypes = [vp, ctypes.POINTER(vp)]
    lib.canopy_event_free.argtypes = [vp]
    lib.canopy_event_free.restype = None
    return lib


class CanopyError(Exception):
    pass


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    lib = load(sys.argv[1])
    broker, name, group = (a.encode() for a in sys.argv[2:5])

    def check(status, what):
        if status != OK:
            reason = lib.canopy_strerror(status).decode()
            raise CanopyError(f"{what}: {lib.canopy_last_error().decode()} ({status}, {reason})")

    def take_string(ptr):
        text = ctypes.cast(ptr, ctypes.c_char_p).value.decode()
        lib.canopy_string_free(ptr)
        return text

    print("version", lib.canopy_version().decode())
    check(lib.canopy_check_version(HEADER_VERSION), "check_version")
    opts = Options()
    # Never more than we declared; the library's own may be larger.
    print("options layout fits:", ctypes.sizeof(opts) <= lib.canopy_options_size())
    check(lib.canopy_options_init(ctypes.byref(opts), ctypes.sizeof(opts)), "options_init")
    opts.broker, opts.name, opts.group = broker, name, group
    node = ctypes.c_void_p()
    check(lib.canopy_connect(ctypes.byref(opts), ctypes.byref(node)), "connect")
    print("joined", f"{group.decode()}/{name.decode()}")
    check(lib.canopy_subscribe(node, b"cmd"), "subscribe")
    check(lib.canopy_sync_subscriptions(node, -1), "sync_subscriptions")
    store = ctypes.c_void_p()
    check(lib.canopy_store_open(node, b"default", ctypes.byref(store)), "store_open")

    seq = ctypes.c_uint64()
    key = b"py/" + name
    value = json.dumps({"lang": "python", "ok": True}).encode()
    check(lib.canopy_put_json(store, group, key, value, TTL_DEFAULT, ctypes.byref(seq)), "put_json")
    out = ctypes.c_void_p()
    check(lib.canopy_get_json(store, key, ctypes.byref(out)), "get_json")
    print("read back", json.dumps(json.loads(take_string(out)), sort_keys=True))
    status = lib.canopy_get_json(store, b"no-such-key", ctypes.byref(out))
    print("missing key not found:", status == ERR_NOT_FOUND)
    count = ctypes.c_int64()
    check(lib.canopy_incr(store, group, b"py-count", 2, ctypes.byref(count)), "incr")
    print("count", count.value)
    check(lib.canopy_publish_json(node, TARGET_GROUP, group, b"reading", b'{"celsius": 19.5}'), "publish")
    print("ready", flush=True)

    while True:
        event = ctypes.c_void_p()
        status = lib.canopy_next_event(node, 20000, ctypes.byref(event))
        if status == ERR_TIMEOUT:
            raise CanopyError("no command arrived")
        check(status, "next_event")
        if lib.canopy_event_kind(event) != EVENT_MESSAGE:
            lib.canopy_event_free(event)
            continue
        payload = ctypes.c_void_p()
        check(lib.canopy_event_payload_json(event, ctypes.byref(payload)), "payload_json")
        print("event", lib.canopy_event_topic(event).decode(), take_string(payload))
        lib.canopy_event_free(event)
        break
    lib.canopy_store_close(store)
    lib.canopy_close(node)
    print("bye")


if __name__ == "__main__":
    try:
        main()
    except CanopyError as e:
        sys.exit(f"sensor.py: {e}")
