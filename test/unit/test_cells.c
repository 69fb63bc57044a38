/* Preload cells: which nodes get which images, and the DaemonSets. */
#include <string.h>

#include "spacekeeper/cells.h"
#include "spacekeeper/json.h"
#include "th.h"

static sk_preload_template *tpl(const char *yaml)
{
    json_t *obj = th_yaml(yaml);
    sk_preload_template *t = sk_preload_template_decode(obj);
    json_decref(obj);
    ck_assert_ptr_nonnull(t);
    return t;
}

static const sk_preload_cell *cell_with(const sk_preload_cells *cs, const char *labels_yaml)
{
    json_t *labels = th_yaml(labels_yaml);
    const sk_preload_cell *found = NULL;
    for (size_t i = 0; i < cs->n; i++) {
        int all = 1;
        for (size_t t = 0; t < cs->cells[i].ntemplates; t++)
            all &= sk_selector_matches(&cs->cells[i].templates[t]->selector, labels);
        if (all && (!found || cs->cells[i].ntemplates > found->ntemplates))
            found = &cs->cells[i];
    }
    json_decref(labels);
    return found;
}

START_TEST(test_template_decode)
{
    sk_preload_template *t = tpl("metadata: {name: t, namespace: ns, resourceVersion: '5'}\n"
                                 "spec: {defaultImage: a:1, allowedImages: [b:1, a:1, '', b:1],\n"
                                 "  defaultNodeSelector: {zone: a, gpu: 'true'},\n"
                                 "  defaultTolerations: [{key: gpu, operator: Exists}]}\n");
    ck_assert_int_eq(t->enabled, 1);
    ck_assert_uint_eq(t->nimages, 2); /* de-duplicated as written, empties dropped */
    ck_assert_str_eq(t->images[0], "a:1");
    ck_assert_str_eq(t->images[1], "b:1");
    ck_assert_str_eq(t->selector.text, "gpu=true,zone=a");
    ck_assert(sk_preload_template_names(t, "b:1"));
    ck_assert(!sk_preload_template_names(t, "c:1"));
    sk_preload_template_free(t);
    t = tpl("metadata: {name: t, annotations: {workspace.jupyter.org/preload: 'false'}}\nspec: {defaultImage: a}\n");
    ck_assert_int_eq(t->enabled, 0);
    ck_assert_str_eq(t->selector.text, "");
    sk_preload_template_free(t);
}
END_TEST

START_TEST(test_cpu_gpu_cells)
{
    sk_preload_template *cpu = tpl("metadata: {name: cpu}\nspec: {defaultImage: cpu:1, allowedImages: [bad:1]}\n");
    sk_preload_template *gpu = tpl("metadata: {name: gpu}\nspec: {defaultImage: gpu:1,\n"
                                   "  defaultNodeSelector: {nvidia.com/gpu.present: 'true'},\n"
                                   "  defaultTolerations: [{key: nvidia.com/gpu, operator: Exists}]}\n");
    sk_preload_template *off = tpl("metadata: {name: opted-out, annotations: {workspace.jupyter.org/preload: 'false'}}\n"
                                   "spec: {defaultImage: never:1}\n");
    const sk_preload_template *ts[] = {cpu, gpu, off};
    json_t *nodes = th_yaml("- {kubernetes.io/arch: amd64}\n- {kubernetes.io/arch: amd64}\n"
                            "- {nvidia.com/gpu.present: 'true'}\n");
    const char *extra[] = {"extra:1", NULL}, *skip[] = {"bad:1", NULL};
    sk_preload_cells cs;
    sk_preload_cells_compute(ts, 3, nodes, extra, skip, &cs);
    ck_assert_uint_eq(cs.n, 2);
    ck_assert_uint_eq(cs.cells[0].nodes, 2); /* most nodes first */
    const sk_preload_cell *c = cell_with(&cs, "{}"), *g = cell_with(&cs, "{nvidia.com/gpu.present: 'true'}");
    ck_assert_ptr_ne(c, g);
    ck_assert_uint_eq(c->nimages, 2);
    ck_assert_str_eq(c->images[0], "cpu:1");
    ck_assert_str_eq(c->images[1], "extra:1");
    ck_assert_uint_eq(g->nimages, 3);
    ck_assert_uint_eq(json_array_size(g->tolerations), 1);
    ck_assert_uint_eq(json_array_size(c->tolerations), 0);
    /* exact affinity: the CPU cell excludes GPU nodes, the GPU cell requires them */
    char *ca = sk_json_dumps(c->affinity, JSON_COMPACT | JSON_SORT_KEYS);
    char *ga = sk_json_dumps(g->affinity, JSON_COMPACT | JSON_SORT_KEYS);
    ck_assert_ptr_nonnull(strstr(ca, "\"key\":\"nvidia.com/gpu.present\",\"operator\":\"NotIn\",\"values\":[\"true\"]"));
    ck_assert_ptr_nonnull(strstr(ga, "\"key\":\"nvidia.com/gpu.present\",\"operator\":\"In\",\"values\":[\"true\"]"));
    free(ca), free(ga);
    ck_assert_str_ne(c->name, g->name);
    ck_assert_uint_le(strlen(c->name), 63);
    sk_preload_cells_free(&cs);

    /* no selector anywhere: one cell, no affinity (an empty term would match nothing) */
    const sk_preload_template *only[] = {cpu};
    sk_preload_cells_compute(only, 1, nodes, NULL, NULL, &cs);
    ck_assert_uint_eq(cs.n, 1);
    ck_assert_ptr_null(cs.cells[0].affinity);
    ck_assert_uint_eq(cs.cells[0].nodes, 3);
    sk_preload_cells_free(&cs);

    /* no nodes, no cells */
    json_t *none = json_array();
    sk_preload_cells_compute(ts, 3, none, extra, NULL, &cs);
    ck_assert_uint_eq(cs.n, 0);
    sk_preload_cells_free(&cs);
    json_decref(none);

    /* a node no template matches gets no cell */
    const sk_preload_template *gpu_only[] = {gpu};
    sk_preload_cells_compute(gpu_only, 1, nodes, NULL, NULL, &cs);
    ck_assert_uint_eq(cs.n, 1);
    ck_assert_uint_eq(cs.cells[0].nodes, 1);
    sk_preload_cells_free(&cs);
    json_decref(nodes);
    sk_preload_template_free(cpu), sk_preload_template_free(gpu), sk_preload_template_free(off);
}
END_TEST

START_TEST(test_too_many_terms)
{
    /* 7 selectors of 2 keys each that a bare node does not match: excluding
     * them all would take 2^7 terms */
    sk_preload_template *ts[8];
    ts[0] = tpl("metadata: {name: base}\nspec: {defaultImage: base:1}\n");
    for (int i = 1; i < 8; i++) {
        char y[256];
        snprintf(y, sizeof y, "metadata: {name: t%d}\nspec: {defaultImage: i%d:1, defaultNodeSelector: {a%d: p, b%d: q}}\n",
                 i, i, i, i);
        ts[i] = tpl(y);
    }
    json_t *nodes = th_yaml("- {}\n- {a1: p, b1: q}\n");
    sk_preload_cells cs;
    sk_preload_cells_compute((const sk_preload_template *const *)ts, 8, nodes, NULL, NULL, &cs);
    ck_assert_uint_eq(cs.dropped_terms, 1); /* the bare node's cell */
    ck_assert_uint_eq(cs.n, 1);             /* the other: 2^6 = 64 terms, just allowed */
    sk_preload_cells_free(&cs);
    json_decref(nodes);
    for (int i = 0; i < 8; i++)
        sk_preload_template_free(ts[i]);
}
END_TEST

START_TEST(test_names_and_rendering)
{
    char a[64], b[64], c[64];
    sk_preload_container_name("public.ecr.aws/sagemaker/sagemaker-distribution:latest-cpu", a, sizeof a);
    ck_assert_msg(strncmp(a, "sagemaker-distribution-latest-cpu-", 34) == 0, "%s", a);
    sk_preload_container_name("other.registry/sagemaker/sagemaker-distribution:latest-cpu", b, sizeof b);
    ck_assert_str_ne(a, b); /* same base, different reference */
    sk_preload_container_name("r/" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:1", c, sizeof c);
    ck_assert_uint_le(strlen(c), 63);
    sk_preload_container_name("@@@", c, sizeof c);
    ck_assert_msg(strncmp(c, "image-", 6) == 0, "%s", c);
    ck_assert(sk_image_is_digest("r/x@sha256:abc"));
    ck_assert(!sk_image_is_digest("r/x:latest"));

    sk_preload_template *t = tpl("metadata: {name: t}\nspec: {defaultImage: r/x:latest, allowedImages: ['r/y@sha256:ab']}\n");
    const sk_preload_template *ts[] = {t};
    json_t *nodes = th_yaml("- {}\n");
    sk_preload_cells cs;
    sk_preload_cells_compute(ts, 1, nodes, NULL, NULL, &cs);
    const char *secrets[] = {"regcred", NULL};
    sk_preload_render r = {"spacekeeper-system", "spacekeeper:0.1.0", "spacekeeper-preload", secrets};
    json_t *one = sk_preload_daemonset(&cs.cells[0], &r, "2026-11-23T08:00:00Z");
    json_t *two = sk_preload_daemonset(&cs.cells[0], &r, "2026-11-24T08:00:00Z");
    char *h1 = strdup(sk_json_str(one, "metadata", "annotations", SK_PRELOAD_HASH_ANNOTATION, NULL));
    ck_assert_str_eq(h1, sk_json_str(two, "metadata", "annotations", SK_PRELOAD_HASH_ANNOTATION, NULL));
    ck_assert_str_eq(sk_json_str(one, "spec", "template", "metadata", "annotations", SK_PRELOAD_REFRESH_ANNOTATION,
                                 NULL), "2026-11-23T08:00:00Z");
    json_t *containers = sk_json_get(one, "spec", "template", "spec", "containers", NULL);
    ck_assert_uint_eq(json_array_size(containers), 2);
    ck_assert_str_eq(sk_json_str(json_array_get(containers, 0), "imagePullPolicy", NULL), "Always");
    ck_assert_str_eq(sk_json_str(json_array_get(containers, 1), "imagePullPolicy", NULL), "IfNotPresent");
    ck_assert_ptr_null(sk_json_get(one, "spec", "template", "spec", "affinity", NULL));
    json_decref(one), json_decref(two);
    sk_preload_cells_free(&cs);

    /* another image: another hash */
    const char *extra[] = {"r/z:1", NULL};
    sk_preload_cells_compute(ts, 1, nodes, extra, NULL, &cs);
    json_t *three = sk_preload_daemonset(&cs.cells[0], &r, NULL);
    ck_assert_str_ne(h1, sk_json_str(three, "metadata", "annotations", SK_PRELOAD_HASH_ANNOTATION, NULL));
    json_decref(three);
    free(h1);
    sk_preload_cells_free(&cs);
    json_decref(nodes);
    sk_preload_template_free(t);
}
END_TEST

Suite *cells_suite(void)
{
    Suite *s = suite_create("cells");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_template_decode);
    tcase_add_test(tc, test_cpu_gpu_cells);
    tcase_add_test(tc, test_too_many_terms);
    tcase_add_test(tc, test_names_and_rendering);
    suite_add_tcase(s, tc);
    return s;
}
