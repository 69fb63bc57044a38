#include "spacekeeper/impact.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spacekeeper/buf.h"
#include "spacekeeper/json.h"

void sk_impact_init(sk_impact *im, const sk_policy_config *cfg, const sk_store *was,
                    const sk_store *now, const json_t *changed)
{
    memset(im, 0, sizeof *im);
    im->cfg = cfg;
    im->was = was;
    im->now = now;
    im->changed = sk_map_new();
    size_t i;
    json_t *key;
    json_array_foreach(changed, i, key) {
        if (json_is_string(key))
            sk_map_put(im->changed, json_string_value(key), (void *)1);
    }
}

void sk_impact_reset(sk_impact *im)
{
    for (size_t i = 0; i < im->n_named; i++)
        free(im->named[i]);
    free(im->named);
    im->named = NULL;
    im->n_named = 0;
    im->seen = im->using = im->denied = 0;
}

void sk_impact_free(sk_impact *im)
{
    sk_impact_reset(im);
    sk_map_free(im->changed);
    im->changed = NULL;
}

static int is_changed(const sk_impact *im, const sk_template *t)
{
    return t && sk_map_get(im->changed, t->key) != NULL;
}

int sk_impact_uses(const sk_impact *im, const json_t *ws)
{
    return is_changed(im, sk_policy_template_for(im->cfg, im->now, ws)) ||
           is_changed(im, sk_policy_template_for(im->cfg, im->was, ws));
}

static void keep_line(sk_impact *im, char *line)
{
    char **named = realloc(im->named, (im->n_named + 1) * sizeof *named);
    if (!named)
        abort();
    im->named = named;
    im->named[im->n_named++] = line;
}

void sk_impact_count(sk_impact *im, const char *ns, const char *name, int refused,
                     const json_t *violations)
{
    im->using++;
    if (!refused)
        return;
    im->denied++;
    if (im->n_named < im->max_named)
        keep_line(im, sk_impact_line(ns, name, violations));
}

int sk_impact_review(sk_impact *im, const json_t *ws)
{
    sk_decision d;
    sk_policy_review_start(im->cfg, im->now, ws, im->user, im->groups, &d);
    int refused = !d.allowed;
    sk_impact_count(im, d.namespace, d.name, refused, d.violations);
    if (im->on_review)
        im->on_review(im->ud, &d);
    sk_decision_free(&d);
    return refused;
}

void sk_impact_merge(sk_impact *im, sk_impact *later)
{
    im->seen += later->seen;
    im->using += later->using;
    im->denied += later->denied;
    for (size_t i = 0; i < later->n_named; i++) {
        if (im->n_named < im->max_named) {
            keep_line(im, later->named[i]);
            later->named[i] = NULL;
        }
    }
    sk_impact_reset(later);
}

void sk_impact_add(sk_impact *im, const json_t *ws)
{
    im->seen++;
    if (sk_json_get(ws, "metadata", "deletionTimestamp", NULL))
        return; /* going away: it will not start again */
    if (sk_impact_uses(im, ws))
        sk_impact_review(im, ws);
}

void sk_impact_clip(const char *text, char *buf, size_t cap)
{
    static const char ELLIPSIS[] = "...";
    const unsigned char *p = (const unsigned char *)text, *end = p + strlen(text);
    size_t len = 0, fits = 0; /* fits: bytes that leave room for the ellipsis */
    while (p < end) {
        size_t n = *p < 0x80 ? 1 : sk_json_utf8_length(p, end);
        if (len + (n ? n : 1) >= cap)
            break;
        if (n == 0) /* not UTF-8: a character that is */
            buf[len++] = '?', p++;
        else if (n == 1)
            buf[len++] = *p < 0x20 || *p == 0x7f ? ' ' : (char)*p, p++;
        else
            memcpy(buf + len, p, n), len += n, p += n;
        if (len + sizeof ELLIPSIS <= cap)
            fits = len;
    }
    if (p < end) { /* cut: end on a whole character, then "..." */
        len = fits;
        memcpy(buf + len, ELLIPSIS, sizeof ELLIPSIS - 1);
        len += sizeof ELLIPSIS - 1;
    }
    buf[len] = '\0';
}

char *sk_impact_line(const char *ns, const char *name, const json_t *violations)
{
    size_t n = json_array_size(violations);
    const char *first = n ? sk_json_str(json_array_get(violations, 0), "message", NULL) : NULL;
    char more[32] = "";
    if (n > 1)
        snprintf(more, sizeof more, " (+%zu more)", n - 1);
    sk_buf text = SK_BUF_INIT;
    sk_buf_printf(&text, "%s/%s: %s", ns, name, first ? first : "refused");
    /* the count of further violations stays visible however long the first */
    char *line = malloc(SK_IMPACT_LINE_MAX + 1);
    if (!line)
        abort();
    size_t room = SK_IMPACT_LINE_MAX + 1 - strlen(more);
    sk_impact_clip(text.data, line, room);
    strcat(line, more);
    sk_buf_free(&text);
    return line;
}
