/*
 * A sensor node in C: joins a group, subscribes to commands, keeps a replica
 * of the "default" store, writes its state, publishes readings, and waits for
 * one command.
 *
 *   sensor tcp://127.0.0.1:5556 NAME GROUP
 *
 * Prints one line per step; exits non-zero on the first error.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canopy.h"

static int check(int status, const char *what) {
    if (status != CANOPY_OK) {
        fprintf(stderr, "sensor: %s failed (%d, %s): %s\n", what, status, canopy_strerror(status),
                canopy_last_error());
        exit(1);
    }
    return status;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s BROKER NAME GROUP\n", argv[0]);
        return 2;
    }
    printf("version %s (header %d.%d.%d)\n", canopy_version(), CANOPY_VERSION_MAJOR,
           CANOPY_VERSION_MINOR, CANOPY_VERSION_PATCH);
    /* The library must be able to serve this header. */
    check(CANOPY_CHECK_VERSION(), "check_version");

    canopy_options options;
    check(CANOPY_OPTIONS_INIT(&options), "options_init");
    options.broker = argv[1];
    options.name = argv[2];
    options.group = argv[3];
    canopy_node *node = NULL;
    check(canopy_connect(&options, &node), "connect");
    printf("joined %s/%s\n", argv[3], argv[2]);
    check(canopy_subscribe(node, "cmd"), "subscribe");
    /* From here on no command published to us is lost for want of it. */
    check(canopy_sync_subscriptions(node, -1), "sync_subscriptions");

    canopy_store *store = NULL;
    check(canopy_store_open(node, "default", &store), "store_open");

    /* Read the threshold the node sees, into a caller buffer... */
    uint8_t buf[256];
    size_t len = 0;
    int status = canopy_get(store, "threshold", buf, sizeof buf, &len);
    if (status == CANOPY_ERR_NOT_FOUND) {
        printf("threshold missing\n");
    } else {
        check(status, "get");
        printf("threshold %zu bytes of MessagePack\n", len);
    }
    /* ...and as JSON, in a buffer the library allocates. */
    char *json = NULL;
    if (canopy_get_json(store, "threshold", &json) == CANOPY_OK) {
        printf("threshold %s\n", json);
        canopy_string_free(json);
    }
    uint8_t *owned = NULL;
    size_t owned_len = 0;
    if (canopy_get_alloc(store, "threshold", &owned, &owned_len) == CANOPY_OK) {
        canopy_buffer_free(owned, owned_len);
    }

    /* Write our own state at our group level, and count readings. */
    char key[128];
    snprintf(key, sizeof key, "sensors/%s", argv[2]);
    uint64_t seq = 0;
    check(canopy_put_json(store, argv[3], key, "{\"status\":\"up\"}", CANOPY_TTL_DEFAULT, &seq),
          "put_json");
    printf("put %s seq>0 %d\n", key, seq > 0);
    check(canopy_get_json(store, key, &json), "get_json own write");
    printf("read back %s\n", json);
    canopy_string_free(json);
    int64_t count = 0;
    check(canopy_incr(store, argv[3], "readings", 3, &count), "incr");
    printf("readings %" PRId64 "\n", count);
    /* Zero-initialised: every field not set is its default (the store's TTL). */
    canopy_write_args args;
    memset(&args, 0, sizeof args);
    args.op = CANOPY_OP_SET_INSERT;
    args.level = argv[3];
    args.key = "members";
    args.value_json = "\"sensor\"";
    canopy_write_result result;
    memset(&result, 0, sizeof result);
    check(canopy_write(store, &args, &result), "set_insert");
    args.op = CANOPY_OP_PUT_IF_ABSENT;
    args.key = key;
    args.value_json = "1";
    status = canopy_write(store, &args, &result);
    printf("put_if_absent on existing key: conflict %d\n", status == CANOPY_ERR_CONFLICT);

    /* Publish readings to our group. */
    for (int i = 0; i < 3; i++) {
        char reading[64];
        snprintf(reading, sizeof reading, "{\"celsius\": %d}", 20 + i);
        check(canopy_publish_json(node, CANOPY_TARGET_GROUP, argv[3], "reading", reading),
              "publish_json");
    }
    printf("published 3 readings\n");
    printf("ready\n");
    fflush(stdout);

    /* Wait for one command addressed to us (or our groups). */
    for (;;) {
        canopy_event *event = NULL;
        status = canopy_next_event(node, 20000, &event);
        if (status == CANOPY_ERR_TIMEOUT) {
            fprintf(stderr, "sensor: no command arrived\n");
            return 1;
        }
        check(status, "next_event");
        if (canopy_event_kind(event) != CANOPY_EVENT_MESSAGE) {
            canopy_event_free(event);
            continue;
        }
        char *payload = NULL;
        check(canopy_event_payload_json(event, &payload), "payload_json");
        printf("event topic=%s target=%s publisher=%s payload=%s\n", canopy_event_topic(event),
               canopy_event_target(event), canopy_event_publisher(event), payload);
        canopy_string_free(payload);
        canopy_event_free(event);
        break;
    }

    canopy_store_close(store);
    canopy_close(node);
    printf("bye\n");
    return 0;
}
