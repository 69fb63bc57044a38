/* Loading Kubernetes documents from files, directories and stdin. */
#ifndef SPACEKEEPER_DOCS_H
#define SPACEKEEPER_DOCS_H

#include <stddef.h>

#include <jansson.h>

#include "spacekeeper/err.h"

typedef struct sk_doc {
    json_t *value;  /* owned */
    char *source;   /* owned: "path" or "path#N" for the Nth document of a stream */
} sk_doc;

typedef struct sk_doclist {
    sk_doc *items;
    size_t n, cap;
} sk_doclist;

#define SK_DOCLIST_INIT {NULL, 0, 0}

/* Appends the documents of a file, of every *.yaml, *.yml and *.json under a
 * directory (recursively, in name order), or of stdin for "-". YAML or JSON
 * is told by the extension, and for stdin by the first character. Items of
 * a kind: List are appended one by one. */
int sk_doclist_load(sk_doclist *l, const char *path, sk_err *err);

/* Appends every document of an in-memory stream named `name`. */
int sk_doclist_load_buffer(sk_doclist *l, const char *buf, size_t len, const char *name,
                           int is_json, sk_err *err);

void sk_doclist_free(sk_doclist *l);

/* Reads a whole file ("-" for stdin) into a malloc'd, NUL-terminated
 * buffer. */
char *sk_read_file(const char *path, size_t *len, sk_err *err);

#endif
