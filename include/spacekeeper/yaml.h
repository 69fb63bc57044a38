/* YAML <-> JSON with the semantics kubectl gives YAML (go-yaml v2 scalar
 * resolution): "1" quoted stays a string, 1 plain is a number, true/false,
 * yes/no/on/off, null/~; block and flow styles; anchors, aliases and "<<"
 * merge keys. Duplicate keys are an error, as kubectl makes them. */
#ifndef SPACEKEEPER_YAML_H
#define SPACEKEEPER_YAML_H

#include <stddef.h>

#include <jansson.h>

#include "spacekeeper/err.h"

/* Parses every document of a stream into a new JSON array (one element per
 * document; empty documents are skipped). Errors read
 * "NAME:LINE:COLUMN: reason". Returns NULL on error. */
json_t *sk_yaml_load(const char *buf, size_t len, const char *name, sk_err *err);

/* Emits value as a YAML document (block style, strings quoted where plain
 * would resolve to another type). Returns a malloc'd string. */
char *sk_yaml_dump(const json_t *value);

#endif
