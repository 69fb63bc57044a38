#include "spacekeeper/workspace_brief.h"

#include <stdlib.h>
#include <string.h>

#include "spacekeeper/buf.h"
#include "spacekeeper/json.h"
#include "spacekeeper/json_decode.h"
#include "spacekeeper/policy.h"

/* kubectl apply's copy of the whole object: as large as the rest together,
 * and no rule reads it. */
#define LAST_APPLIED "kubectl.kubernetes.io/last-applied-configuration"

static json_t *metadata_brief(const json_t *md)
{
    /* not the name: kept beside the text, so that workspaces alike but for
     * their names have the same text */
    static const char *const KEEP[] = {"namespace", "labels", "deletionTimestamp"};
    json_t *out = json_object();
    for (size_t i = 0; i < sizeof KEEP / sizeof *KEEP; i++) {
        json_t *v = json_object_get(md, KEEP[i]);
        if (v)
            json_object_set(out, KEEP[i], v);
    }
    json_t *annotations = json_object_get(md, "annotations");
    if (json_is_object(annotations)) {
        json_t *kept = json_object();
        const char *k;
        json_t *v;
        json_object_foreach(annotations, k, v) {
            if (strcmp(k, LAST_APPLIED) != 0)
                json_object_set(kept, k, v);
        }
        json_object_set_new(out, "annotations", kept);
    }
    return out;
}

static char *compact(const json_t *v)
{
    sk_buf b = SK_BUF_INIT;
    if (sk_json_write(&b, v) < 0) {
        sk_buf_free(&b);
        return NULL;
    }
    return sk_buf_steal(&b);
}

sk_ws_brief *sk_ws_brief_new(const json_t *ws)
{
    const char *name = sk_json_str(ws, "metadata", "name", NULL);
    if (!name)
        return NULL;
    const char *ns = sk_json_str(ws, "metadata", "namespace", NULL);
    if (!ns || !*ns)
        ns = "default";
    json_t *md = json_object_get(ws, "metadata"), *spec = json_object_get(ws, "spec");
    json_t *brief = json_pack("{s:s, s:s, s:o}", "apiVersion", SK_API_VERSION, "kind",
                              SK_KIND_WORKSPACE, "metadata", metadata_brief(md));
    if (spec)
        json_object_set(brief, "spec", spec);
    char *doc = compact(brief);
    json_decref(brief);
    const json_t *ref = sk_json_get(ws, "spec", "templateRef", NULL);
    char *ref_text = ref ? compact(ref) : NULL;
    if (!doc) { /* not UTF-8: the API server would not have stored it */
        free(ref_text);
        return NULL;
    }
    size_t ns_len = strlen(ns), name_len = strlen(name), ref_len = ref_text ? strlen(ref_text) : 0;
    size_t doc_len = strlen(doc);
    sk_ws_brief *b = malloc(sizeof *b + ns_len + 1 + name_len + 1 + ns_len + 1 + ref_len + 1 + doc_len + 1);
    if (!b)
        abort();
    char *p = (char *)(b + 1);
    b->ns = memcpy(p, ns, ns_len + 1);
    p += ns_len + 1;
    b->name = memcpy(p, name, name_len + 1);
    p += name_len + 1;
    b->selects = p;
    memcpy(p, ns, ns_len);
    p[ns_len] = '\n';
    memcpy(p + ns_len + 1, ref_text ? ref_text : "", ref_len + 1);
    p += ns_len + 1 + ref_len + 1;
    b->doc = memcpy(p, doc, doc_len + 1);
    b->doc_len = doc_len;
    b->deleting = sk_json_get(ws, "metadata", "deletionTimestamp", NULL) != NULL;
    free(doc);
    free(ref_text);
    return b;
}

json_t *sk_ws_brief_object(const sk_ws_brief *b)
{
    json_t *v = sk_json_decode(b->doc, b->doc_len, 0, NULL);
    if (!v)
        v = json_loadb(b->doc, b->doc_len, 0, NULL);
    json_t *md = json_object_get(v, "metadata");
    if (md)
        json_object_set_new(md, "name", json_string(b->name));
    return v;
}

int sk_ws_brief_compare(const void *a, const void *b)
{
    const sk_ws_brief *x = *(const sk_ws_brief *const *)a, *y = *(const sk_ws_brief *const *)b;
    int c = strcmp(x->ns, y->ns);
    return c ? c : strcmp(x->name, y->name);
}

static void *decode(const json_t *obj)
{
    return sk_ws_brief_new(obj);
}

const sk_cache_ops sk_ws_brief_ops = {decode, free, NULL};
