/* What serve keeps of workspaces and namespaces, and what a template change
 * does to them: sk_impact's counting and lines, workspace briefs, the
 * terminating-namespace decoder, the watch table and arena marks. */
#include <stdlib.h>
#include <string.h>

#include "spacekeeper/arena.h"
#include "spacekeeper/impact.h"
#include "spacekeeper/json.h"
#include "spacekeeper/namespaces.h"
#include "spacekeeper/violation.h"
#include "spacekeeper/watchset.h"
#include "spacekeeper/workspace_brief.h"
#include "th.h"

#define TPL(name, ns, labels, max)                                                                       \
    "apiVersion: workspace.jupyter.org/v1alpha1\nkind: WorkspaceTemplate\n"                             \
    "metadata: {name: " name ", namespace: " ns ", labels: {" labels "}}\n"                             \
    "spec: {defaultImage: img:1, allowedImages: [img:1, img:2], primaryStorage: {defaultSize: 10Gi, "   \
    "maxSize: " max "}}\n"
#define DEFAULT "workspace.jupyter.org/default-template: \"true\""

static json_t *ws(const char *ns, const char *name, const char *ref, const char *size, int deleting)
{
    json_t *w = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:s, s:{s:s}}}", "apiVersion",
                          SK_API_VERSION, "kind", "Workspace", "metadata", "name", name, "namespace", ns,
                          "annotations", SK_ANNOTATION_CREATED_BY, "alice", "spec", "image", "img:1",
                          "storage", "size", size);
    if (ref)
        json_object_set_new(json_object_get(w, "spec"), "templateRef",
                            json_pack("{s:s, s:s}", "name", ref, "namespace", "team-a"));
    if (deleting)
        json_object_set_new(json_object_get(w, "metadata"), "deletionTimestamp",
                            json_string("2026-01-01T00:00:00Z"));
    return w;
}

START_TEST(test_impact_counts_users_and_refusals)
{
    sk_policy_config cfg;
    sk_policy_config_init(&cfg);
    sk_store *was = th_store(TPL("strict", "team-a", DEFAULT, "100Gi"));
    sk_store *now = th_store(TPL("strict", "team-a", DEFAULT, "30Gi"));
    json_t *changed = json_pack("[s]", "team-a/strict");
    sk_impact im;
    sk_impact_init(&im, &cfg, was, now, changed);
    im.max_named = 1;
    json_t *list[] = {
        ws("team-a", "by-ref-big", "strict", "50Gi", 0),  /* refused */
        ws("team-a", "by-default-big", NULL, "40Gi", 0),  /* refused, but past max_named */
        ws("team-a", "small", "strict", "20Gi", 0),       /* still starts */
        ws("team-b", "elsewhere", NULL, "90Gi", 0),       /* another template (none) */
        ws("team-a", "going", "strict", "90Gi", 1),       /* being deleted */
    };
    for (size_t i = 0; i < sizeof list / sizeof *list; i++)
        sk_impact_add(&im, list[i]);
    ck_assert_uint_eq(im.seen, 5);
    ck_assert_uint_eq(im.using, 3);
    ck_assert_uint_eq(im.denied, 2);
    ck_assert_uint_eq(im.n_named, 1);
    ck_assert_msg(strncmp(im.named[0], "team-a/by-ref-big: spec.storage.size", 36) == 0, "%s", im.named[0]);
    ck_assert(sk_impact_uses(&im, list[1]) && !sk_impact_uses(&im, list[3]));
    /* a later part counted apart: its counts added, its lines after ours while there is room */
    sk_impact later;
    sk_impact_init(&later, &cfg, was, now, changed);
    later.max_named = 1;
    sk_impact_add(&later, list[0]);
    im.max_named = 2;
    sk_impact_merge(&im, &later);
    ck_assert_uint_eq(im.seen, 6);
    ck_assert_uint_eq(im.denied, 3);
    ck_assert_uint_eq(im.n_named, 2);
    ck_assert_str_eq(im.named[1], im.named[0]);
    ck_assert_uint_eq(later.seen + later.n_named, 0);
    sk_impact_free(&later);
    sk_impact_reset(&im); /* a LIST that started over */
    ck_assert_uint_eq(im.seen + im.using + im.denied + im.n_named, 0);
    sk_impact_free(&im);
    for (size_t i = 0; i < sizeof list / sizeof *list; i++)
        json_decref(list[i]);
    json_decref(changed);
    sk_store_free(was);
    sk_store_free(now);
}
END_TEST

START_TEST(test_clip_keeps_lines_short_and_whole)
{
    char buf[SK_IMPACT_LINE_MAX + 1];
    sk_impact_clip("short\tand\nplain", buf, sizeof buf);
    ck_assert_str_eq(buf, "short and plain"); /* control characters would break kubectl's line */
    char long_text[400];
    memset(long_text, 'x', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    sk_impact_clip(long_text, buf, sizeof buf);
    ck_assert_uint_eq(strlen(buf), SK_IMPACT_LINE_MAX);
    ck_assert_str_eq(buf + SK_IMPACT_LINE_MAX - 3, "...");
    /* "é" is two bytes: a cut never splits one */
    char accents[400] = "";
    for (int i = 0; i < 150; i++)
        strcat(accents, "\xc3\xa9");
    sk_impact_clip(accents, buf, sizeof buf);
    size_t n = strlen(buf);
    ck_assert_uint_le(n, SK_IMPACT_LINE_MAX);
    ck_assert_str_eq(buf + n - 3, "...");
    ck_assert_uint_eq((n - 3) % 2, 0);
    sk_impact_clip("bad \xff byte", buf, sizeof buf);
    ck_assert_str_eq(buf, "bad ? byte");
}
END_TEST

START_TEST(test_line_keeps_the_count_of_the_rest)
{
    json_t *v = json_array();
    sk_violation_add(v, "spec.image", "spec.image \"x\" is not allowed");
    char *one = sk_impact_line("team-a", "w", v);
    ck_assert_str_eq(one, "team-a/w: spec.image \"x\" is not allowed");
    free(one);
    char msg[300];
    memset(msg, 'm', sizeof msg - 1);
    msg[sizeof msg - 1] = '\0';
    sk_violation_add(v, "spec.storage", "%s", msg);
    sk_violation_add(v, "spec.lifecycle", "third");
    json_array_insert_new(v, 0, json_pack("{s:s, s:s}", "field", "f", "message", msg));
    char *line = sk_impact_line("team-a", "w", v);
    ck_assert_uint_le(strlen(line), SK_IMPACT_LINE_MAX);
    ck_assert_msg(strstr(line, "... (+3 more)") != NULL, "%s", line);
    free(line);
    json_decref(v);
}
END_TEST

START_TEST(test_brief_keeps_what_a_start_review_reads)
{
    json_t *w = ws("team-a", "w1", "strict", "20Gi", 0);
    json_t *md = json_object_get(w, "metadata");
    json_object_set_new(md, "labels", json_pack("{s:s}", "team", "a"));
    json_object_set_new(json_object_get(md, "annotations"), "kubectl.kubernetes.io/last-applied-configuration",
                        json_string("{\"a very\": \"long copy\"}"));
    json_object_set_new(md, "managedFields", json_pack("[{s:s}]", "manager", "kubectl"));
    json_object_set_new(w, "status", json_pack("{s:s}", "phase", "Running"));
    sk_ws_brief *b = sk_ws_brief_new(w);
    ck_assert_str_eq(b->ns, "team-a");
    ck_assert_str_eq(b->name, "w1");
    ck_assert_str_eq(b->selects, "team-a\n{\"name\":\"strict\",\"namespace\":\"team-a\"}");
    ck_assert(!b->deleting);
    ck_assert(strstr(b->doc, "last-applied") == NULL && strstr(b->doc, "managedFields") == NULL &&
              strstr(b->doc, "status") == NULL && strstr(b->doc, "w1") == NULL);
    json_t *back = sk_ws_brief_object(b);
    ck_assert_str_eq(sk_json_str(back, "metadata", "name", NULL), "w1");
    ck_assert_str_eq(sk_json_str(back, "metadata", "labels", "team", NULL), "a");
    ck_assert_str_eq(sk_json_str(back, "metadata", "annotations", SK_ANNOTATION_CREATED_BY, NULL), "alice");
    ck_assert(json_equal(json_object_get(back, "spec"), json_object_get(w, "spec")));
    /* alike but for the name: the same text, so one review serves both */
    json_t *twin = json_deep_copy(w);
    json_object_set_new(json_object_get(twin, "metadata"), "name", json_string("w2"));
    sk_ws_brief *b2 = sk_ws_brief_new(twin);
    ck_assert_str_eq(b->doc, b2->doc);
    const sk_ws_brief *pair[] = {b2, b};
    qsort(pair, 2, sizeof *pair, sk_ws_brief_compare);
    ck_assert_str_eq(pair[0]->name, "w1");
    /* no namespace: "default"; no templateRef: an empty second line; deleting */
    json_t *bare = ws("x", "w3", NULL, "1Gi", 1);
    json_object_del(json_object_get(bare, "metadata"), "namespace");
    sk_ws_brief *b3 = sk_ws_brief_new(bare);
    ck_assert_str_eq(b3->selects, "default\n");
    ck_assert(b3->deleting);
    json_object_del(json_object_get(bare, "metadata"), "name");
    ck_assert_ptr_null(sk_ws_brief_new(bare));
    free(b);
    free(b2);
    free(b3);
    json_decref(back);
    json_decref(twin);
    json_decref(bare);
    json_decref(w);
}
END_TEST

START_TEST(test_namespaces_being_deleted)
{
    json_t *active = json_pack("{s:{s:s}, s:{s:s}}", "metadata", "name", "a", "status", "phase", "Active");
    json_t *terminating = json_pack("{s:{s:s}, s:{s:s}}", "metadata", "name", "b", "status", "phase", "Terminating");
    json_t *stamped = json_pack("{s:{s:s, s:s}}", "metadata", "name", "c", "deletionTimestamp", "2026-01-01T00:00:00Z");
    ck_assert_ptr_null(sk_namespace_terminating_ops.decode(active));
    ck_assert_ptr_nonnull(sk_namespace_terminating_ops.decode(terminating));
    ck_assert_ptr_nonnull(sk_namespace_terminating_ops.decode(stamped));
    json_decref(active);
    json_decref(terminating);
    json_decref(stamped);
}
END_TEST

START_TEST(test_an_empty_watchset_is_ready_and_quiet)
{
    sk_watchset *w = sk_watchset_new();
    ck_assert(sk_watchset_ready(w) && sk_watchset_ready(NULL));
    ck_assert(!sk_watchset_live(w, "workspaces"));
    sk_buf out = SK_BUF_INIT;
    sk_watchset_describe(w, &out);
    sk_watchset_metrics(w, &out);
    ck_assert_uint_eq(out.len, 0);
    sk_watchset_add_cache(w, "workspaces", 0, NULL); /* nothing started: no row */
    ck_assert_uint_eq(sk_watchset_count(w), 0);
    sk_buf_free(&out);
    sk_watchset_free(w);
}
END_TEST

START_TEST(test_arena_marks_release_what_came_after)
{
    sk_arena_install();
    sk_arena_begin();
    json_t *kept = json_pack("{s:s}", "before", "the mark");
    void *first = NULL;
    for (int round = 0; round < 3; round++) {
        sk_arena_mark m = sk_arena_save();
        json_t *tmp = json_array();
        for (int i = 0; i < 5000; i++) /* past the first chunk */
            json_array_append_new(tmp, json_pack("{s:i}", "i", i));
        json_decref(tmp);
        sk_arena_restore(m);
        json_t *probe = json_object();
        if (!first)
            first = probe;
        ck_assert_ptr_eq(probe, first); /* the same memory again: nothing piled up */
        json_decref(probe);
        sk_arena_restore(m);
    }
    ck_assert_str_eq(sk_json_str(kept, "before", NULL), "the mark");
    json_decref(kept);
    sk_arena_end();
    json_set_alloc_funcs(malloc, free);
}
END_TEST

Suite *impact_suite(void)
{
    Suite *s = suite_create("impact");
    TCase *tc = tcase_create("impact");
    tcase_add_test(tc, test_impact_counts_users_and_refusals);
    tcase_add_test(tc, test_clip_keeps_lines_short_and_whole);
    tcase_add_test(tc, test_line_keeps_the_count_of_the_rest);
    tcase_add_test(tc, test_brief_keeps_what_a_start_review_reads);
    tcase_add_test(tc, test_namespaces_being_deleted);
    tcase_add_test(tc, test_an_empty_watchset_is_ready_and_quiet);
    tcase_add_test(tc, test_arena_marks_release_what_came_after);
    suite_add_tcase(s, tc);
    return s;
}
