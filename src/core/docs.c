#include "spacekeeper/docs.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "spacekeeper/buf.h"
#include "spacekeeper/json.h"
#include "spacekeeper/json_decode.h"
#include "spacekeeper/yaml.h"

char *sk_read_file(const char *path, size_t *len, sk_err *err)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        sk_err_set(err, "%s: %s", path, strerror(errno));
        return NULL;
    }
    sk_buf b = SK_BUF_INIT;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        sk_buf_append(&b, chunk, n);
    int failed = ferror(f);
    if (f != stdin)
        fclose(f);
    if (failed) {
        sk_buf_free(&b);
        sk_err_set(err, "%s: read error", path);
        return NULL;
    }
    *len = b.len;
    return sk_buf_steal(&b);
}

static void push(sk_doclist *l, json_t *value, const char *name, size_t index, size_t count)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->items = realloc(l->items, l->cap * sizeof *l->items);
        if (!l->items)
            abort();
    }
    sk_buf src = SK_BUF_INIT;
    if (count > 1)
        sk_buf_printf(&src, "%s#%zu", name, index + 1);
    else
        sk_buf_puts(&src, name);
    l->items[l->n++] = (sk_doc){json_incref(value), sk_buf_steal(&src)};
}

static int is_list(const json_t *doc)
{
    const char *kind = sk_json_str(doc, "kind", NULL);
    size_t n = kind ? strlen(kind) : 0;
    return n >= 4 && strcmp(kind + n - 4, "List") == 0 && json_is_array(json_object_get(doc, "items"));
}

int sk_doclist_load_buffer(sk_doclist *l, const char *buf, size_t len, const char *name,
                           int is_json, sk_err *err)
{
    json_t *docs;
    if (is_json) {
        json_error_t je;
        json_t *one = sk_json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
        if (!one)
            return sk_err_set(err, "%s:%d:%d: %s", name, je.line, je.column, je.text);
        docs = json_array();
        json_array_append_new(docs, one);
    } else if (!(docs = sk_yaml_load(buf, len, name, err))) {
        return -1;
    }
    size_t count = json_array_size(docs);
    for (size_t i = 0; i < count; i++) {
        json_t *d = json_array_get(docs, i);
        if (!json_is_object(d)) {
            sk_err_set(err, "%s: document %zu is a %s, not a Kubernetes object", name, i + 1,
                       sk_json_type_name(d));
            json_decref(docs);
            return -1;
        }
        if (is_list(d)) {
            json_t *items = json_object_get(d, "items");
            for (size_t j = 0; j < json_array_size(items); j++)
                push(l, json_array_get(items, j), name, j, json_array_size(items));
        } else {
            push(l, d, name, i, count);
        }
    }
    json_decref(docs);
    return 0;
}

static int has_ext(const char *name, const char *ext)
{
    size_t n = strlen(name), e = strlen(ext);
    return n > e && strcmp(name + n - e, ext) == 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_dir(sk_doclist *l, const char *path, int depth, sk_err *err)
{
    if (depth > 32)
        return sk_err_set(err, "%s: directories nested too deeply", path);
    DIR *d = opendir(path);
    if (!d)
        return sk_err_set(err, "%s: %s", path, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            names = realloc(names, cap * sizeof *names);
            if (!names)
                abort();
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        sk_buf child = SK_BUF_INIT;
        sk_buf_printf(&child, "%s/%s", path, names[i]);
        struct stat st;
        if (rc == 0 && stat(child.data, &st) == 0) {
            if (S_ISDIR(st.st_mode))
                rc = load_dir(l, child.data, depth + 1, err);
            else if (has_ext(names[i], ".yaml") || has_ext(names[i], ".yml") ||
                     has_ext(names[i], ".json"))
                rc = sk_doclist_load(l, child.data, err);
        }
        sk_buf_free(&child);
        free(names[i]);
    }
    free(names);
    return rc;
}

int sk_doclist_load(sk_doclist *l, const char *path, sk_err *err)
{
    struct stat st;
    if (strcmp(path, "-") != 0) {
        if (stat(path, &st) < 0)
            return sk_err_set(err, "%s: %s", path, strerror(errno));
        if (S_ISDIR(st.st_mode))
            return load_dir(l, path, 0, err);
    }
    size_t len;
    char *buf = sk_read_file(path, &len, err);
    if (!buf)
        return -1;
    int is_json = has_ext(path, ".json");
    if (strcmp(path, "-") == 0) {
        size_t i = 0;
        while (i < len && strchr(" \t\r\n", buf[i]))
            i++;
        is_json = i < len && buf[i] == '{';
    }
    int rc = sk_doclist_load_buffer(l, buf, len, strcmp(path, "-") == 0 ? "<stdin>" : path,
                                    is_json, err);
    free(buf);
    return rc;
}

void sk_doclist_free(sk_doclist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        json_decref(l->items[i].value);
        free(l->items[i].source);
    }
    free(l->items);
    l->items = NULL;
    l->n = l->cap = 0;
}
