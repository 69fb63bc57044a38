#include "spacekeeper/watchset.h"

#include <stdlib.h>
#include <string.h>

struct row {
    const char *resource;
    int required;
    sk_reflector *reflector; /* one of the two */
    sk_cache *cache;
};

struct sk_watchset {
    struct row *rows;
    size_t n;
};

sk_watchset *sk_watchset_new(void)
{
    sk_watchset *w = calloc(1, sizeof *w);
    if (!w)
        abort();
    return w;
}

void sk_watchset_free(sk_watchset *w)
{
    if (!w)
        return;
    while (w->n--) {
        sk_reflector_stop(w->rows[w->n].reflector);
        sk_cache_stop(w->rows[w->n].cache);
    }
    free(w->rows);
    free(w);
}

static void add(sk_watchset *w, struct row r)
{
    struct row *rows = realloc(w->rows, (w->n + 1) * sizeof *rows);
    if (!rows)
        abort();
    w->rows = rows;
    w->rows[w->n++] = r;
}

void sk_watchset_add_reflector(sk_watchset *w, const char *resource, int required, sk_reflector *r)
{
    if (r)
        add(w, (struct row){.resource = resource, .required = required, .reflector = r});
}

void sk_watchset_add_cache(sk_watchset *w, const char *resource, int required, sk_cache *c)
{
    if (c)
        add(w, (struct row){.resource = resource, .required = required, .cache = c});
}

size_t sk_watchset_count(const sk_watchset *w)
{
    return w ? w->n : 0;
}

void sk_watchset_status(const sk_watchset *w, size_t i, sk_watch_status *out)
{
    const struct row *r = &w->rows[i];
    *out = (sk_watch_status){.resource = r->resource, .required = r->required};
    if (r->reflector) {
        out->synced = sk_reflector_synced(r->reflector);
        out->live = sk_reflector_live(r->reflector);
        out->restarts = sk_reflector_restarts(r->reflector);
        out->relists = sk_reflector_relists(r->reflector);
    } else {
        out->synced = sk_cache_synced(r->cache);
        out->live = sk_cache_live(r->cache);
        out->restarts = sk_cache_restarts(r->cache);
        out->relists = sk_cache_relists(r->cache);
    }
}

int sk_watchset_ready(const sk_watchset *w)
{
    sk_watch_status st;
    for (size_t i = 0; i < sk_watchset_count(w); i++) {
        sk_watchset_status(w, i, &st);
        if (st.required && !st.synced)
            return 0;
    }
    return 1;
}

int sk_watchset_live(const sk_watchset *w, const char *resource)
{
    sk_watch_status st;
    for (size_t i = 0; i < sk_watchset_count(w); i++) {
        sk_watchset_status(w, i, &st);
        if (strcmp(st.resource, resource) == 0)
            return st.synced && st.live;
    }
    return 0;
}

void sk_watchset_describe(const sk_watchset *w, sk_buf *out)
{
    sk_watch_status st;
    for (size_t i = 0; i < sk_watchset_count(w); i++) {
        sk_watchset_status(w, i, &st);
        if (st.synced && st.live)
            sk_buf_printf(out, "[+]%s: live\n", st.resource);
        else
            sk_buf_printf(out, "[-]%s: %s (%lu watches lost)%s\n", st.resource,
                          st.synced ? "watch broken, serving the last copy" : "not listed yet",
                          st.restarts, st.required ? "" : "; what depends on it is skipped");
    }
}

void sk_watchset_metrics(const sk_watchset *w, sk_buf *out)
{
    static const struct {
        const char *name, *type, *help;
    } FAMILIES[] = {
        {"spacekeeper_watch_synced", "gauge", "Whether the watch has listed its collection once."},
        {"spacekeeper_watch_live", "gauge", "Whether the watch is current (0 while it is broken)."},
        {"spacekeeper_watch_restarts_total", "counter", "Watches lost to errors, by resource."},
        {"spacekeeper_watch_relists_total", "counter", "Full LISTs after the first (410 Gone), by resource."},
    };
    size_t n = sk_watchset_count(w);
    if (!n)
        return;
    for (size_t f = 0; f < sizeof FAMILIES / sizeof *FAMILIES; f++) {
        sk_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", FAMILIES[f].name, FAMILIES[f].help,
                      FAMILIES[f].name, FAMILIES[f].type);
        for (size_t i = 0; i < n; i++) {
            sk_watch_status st;
            sk_watchset_status(w, i, &st);
            unsigned long v[] = {(unsigned long)st.synced, (unsigned long)(st.synced && st.live),
                                 st.restarts, st.relists};
            sk_buf_printf(out, "%s{resource=\"%s\"} %lu\n", FAMILIES[f].name, st.resource, v[f]);
        }
    }
}
