/* Drives the Kubernetes client for the end-to-end tests: one verb per run,
 * one JSON line out: {"status": N, "error": "...", "body": ...}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spacekeeper/kube.h"

static json_t *arg_json(const char *text)
{
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
    if (!v) {
        fprintf(stderr, "kube-probe: bad JSON argument\n");
        exit(2);
    }
    return v;
}

struct pages {
    size_t items, pages;
};

static int count_page(void *ud, const json_t *items, int first)
{
    struct pages *p = ud;
    if (first)
        *p = (struct pages){0, 0};
    p->pages++;
    p->items += json_array_size(items);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: kube-probe KUBECONFIG|in-cluster:DIR VERB PATH [ARG...]\n");
        return 2;
    }
    sk_kube_config cfg;
    sk_err err = {{0}};
    int rc = strncmp(argv[1], "in-cluster:", 11) == 0
                 ? sk_kube_config_in_cluster(&cfg, argv[1] + 11, &err)
                 : sk_kube_config_load(&cfg, argv[1], NULL, &err);
    sk_kube *k = NULL;
    if (rc == 0) {
        k = sk_kube_new(&cfg, &err);
        sk_kube_config_free(&cfg);
    }
    if (!k) { /* no configuration: status -2 */
        json_t *res = json_pack("{s:i, s:s}", "status", -2, "error", err.msg);
        char *line = json_dumps(res, JSON_COMPACT);
        printf("%s\n", line);
        free(line);
        json_decref(res);
        return 0;
    }
    const char *verb = argv[2], *path = argv[3];
    json_t *out = NULL, *in = NULL;
    long st = -1;
    if (strcmp(verb, "get") == 0) {
        st = sk_kube_get(k, path, &out, &err);
    } else if (strcmp(verb, "list") == 0) { /* every page; body: {"items": N, "pages": P} */
        unsigned limit = argc > 4 ? (unsigned)atoi(argv[4]) : 0;
        struct pages counts = {0, 0};
        st = sk_kube_list_pages(k, path, limit, count_page, &counts, NULL, NULL, 0, &err);
        out = json_pack("{s:I, s:I}", "items", (json_int_t)counts.items, "pages", (json_int_t)counts.pages);
    } else if (strcmp(verb, "create") == 0 && argc > 4) {
        in = arg_json(argv[4]);
        st = sk_kube_create(k, path, in, &out, &err);
    } else if (strcmp(verb, "update") == 0 && argc > 4) {
        in = arg_json(argv[4]);
        st = sk_kube_update(k, path, in, &out, &err);
    } else if ((strcmp(verb, "merge") == 0 || strcmp(verb, "jsonpatch") == 0) && argc > 4) {
        in = arg_json(argv[4]);
        st = sk_kube_patch(k, path, verb[0] == 'm' ? SK_KUBE_MERGE_PATCH : SK_KUBE_JSON_PATCH, in,
                           &out, &err);
    } else if (strcmp(verb, "event") == 0 && argc > 6) { /* PATH is the involved object JSON */
        in = arg_json(path);
        st = sk_kube_event(k, in, argv[4], argv[5], argv[6], "spacekeeper", &err);
    } else {
        fprintf(stderr, "kube-probe: unknown verb %s\n", verb);
        sk_kube_free(k);
        return 2;
    }
    json_t *res = json_pack("{s:I, s:s, s:o?}", "status", (json_int_t)st, "error",
                            st >= 400 || st < 0 ? err.msg : "", "body", out);
    char *line = json_dumps(res, JSON_COMPACT);
    printf("%s\n", line);
    free(line);
    json_decref(res);
    json_decref(in);
    sk_kube_free(k);
    return 0;
}
