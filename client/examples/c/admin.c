/*
 * A small admin tool in C.
 *
 *   admin BROKER set GROUP KEY JSON     set a key at a group level
 *   admin BROKER get GROUP KEY          print the value a node in GROUP sees
 *   admin BROKER send NODE TOPIC JSON   send an event to one node
 *   admin BROKER keys GROUP             print the keys a node in GROUP sees
 *   admin BROKER stats                  print the broker's counters as JSON
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "canopy.h"

static int fail(const char *what, int status) {
    fprintf(stderr, "admin: %s: %s (%d)\n", what, canopy_last_error(), status);
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s BROKER set|get|send|keys|stats ...\n", argv[0]);
        return 2;
    }
    const char *cmd = argv[2];
    const char *group = (argc > 3 && strcmp(cmd, "send") != 0) ? argv[3] : "";
    char name[64];
    snprintf(name, sizeof name, "admin-%d", (int)getpid());
    canopy_options options;
    CANOPY_OPTIONS_INIT(&options);
    options.broker = argv[1];
    options.name = name;
    options.group = group;
    canopy_node *node = NULL;
    int status = canopy_connect(&options, &node);
    if (status != CANOPY_OK) return fail("connect", status);

    int rc = 0;
    char *text = NULL;
    canopy_store *store = NULL;
    if (strcmp(cmd, "stats") == 0) {
        status = canopy_stats_json(node, &text);
        if (status != CANOPY_OK) rc = fail("stats", status);
        else printf("%s\n", text);
    } else if (strcmp(cmd, "send") == 0 && argc == 6) {
        status = canopy_publish_json(node, CANOPY_TARGET_NODE, argv[3], argv[4], argv[5]);
        if (status != CANOPY_OK) rc = fail("send", status);
        else printf("sent\n");
    } else if ((strcmp(cmd, "set") == 0 && argc == 6) || (strcmp(cmd, "get") == 0 && argc == 5) ||
               (strcmp(cmd, "keys") == 0 && argc == 4)) {
        status = canopy_store_open(node, "default", &store);
        if (status != CANOPY_OK) {
            rc = fail("store_open", status);
        } else if (cmd[0] == 's') {
            uint64_t seq = 0;
            status = canopy_put_json(store, group, argv[4], argv[5], -1, &seq);
            if (status != CANOPY_OK) rc = fail("set", status);
            else printf("%" PRIu64 "\n", seq);
        } else if (cmd[0] == 'g') {
            status = canopy_get_json(store, argv[4], &text);
            if (status == CANOPY_ERR_NOT_FOUND) {
                fprintf(stderr, "admin: %s\n", canopy_last_error());
                rc = 1;
            } else if (status != CANOPY_OK) {
                rc = fail("get", status);
            } else {
                printf("%s\n", text);
            }
        } else {
            status = canopy_keys_json(store, "", &text);
            if (status != CANOPY_OK) rc = fail("keys", status);
            else printf("%s\n", text);
        }
    } else {
        fprintf(stderr, "admin: bad arguments\n");
        rc = 2;
    }
    canopy_string_free(text);
    canopy_store_close(store);
    canopy_close(node);
    return rc;
}
