/*
 * A thread blocked in canopy_next_event(node, -1) returns CANOPY_ERR_CLOSED
 * when another thread shuts the node down; then the node is closed.
 *
 *   close_wakes BROKER
 *
 * Prints "woken <status>" and "closed"; exits non-zero on any error.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "canopy.h"

static volatile int waiting = 0;
static int woken_status = 1;

static void *waiter(void *arg) {
    canopy_node *node = arg;
    waiting = 1;
    for (;;) {
        canopy_event *event = NULL;
        int status = canopy_next_event(node, -1, &event);
        if (status != CANOPY_OK) {
            woken_status = status;
            return NULL;
        }
        canopy_event_free(event); /* a notice, not a message: keep waiting */
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s BROKER\n", argv[0]);
        return 2;
    }
    canopy_options options;
    CANOPY_OPTIONS_INIT(&options);
    options.broker = argv[1];
    options.name = "waker";
    canopy_node *node = NULL;
    if (canopy_connect(&options, &node) != CANOPY_OK) {
        fprintf(stderr, "connect: %s\n", canopy_last_error());
        return 1;
    }
    pthread_t thread;
    if (pthread_create(&thread, NULL, waiter, node) != 0) {
        return 1;
    }
    /* Let the waiter get into its call: a round trip to the broker. */
    while (!waiting) {
    }
    char *stats = NULL;
    if (canopy_stats_json(node, &stats) == CANOPY_OK) {
        canopy_string_free(stats);
    }
    canopy_shutdown(node);
    pthread_join(thread, NULL);
    printf("woken %d %s\n", woken_status, canopy_strerror(woken_status));
    /* Later calls are refused the same way, until the handle is freed. */
    printf("after shutdown %d\n", canopy_subscribe(node, "x"));
    canopy_close(node);
    printf("closed\n");
    return woken_status == CANOPY_ERR_CLOSED ? 0 : 1;
}
