/* A fast JSON decoder that builds jansson values.
 *
 * jansson's lexer reads a byte at a time through a callback and was most of
 * the server's CPU. This decoder makes one pass over the bytes, checking
 * everything json_loadb checks (grammar, number forms, escapes, control
 * characters, UTF-8), and builds the same jansson values json_loadb would,
 * with jansson's allocator: inside a request arena they land in the arena.
 * Nesting is walked with a fixed stack, never recursively. */
#ifndef SPACEKEEPER_JSON_DECODE_H
#define SPACEKEEPER_JSON_DECODE_H

#include <stddef.h>

#include <jansson.h>

/* Containers nested deeper than this are left to jansson (see below). */
#define SK_JSON_DECODE_MAX_DEPTH 64

typedef enum sk_json_decode_code {
    SK_JSON_DECODE_OK = 0,
    SK_JSON_DECODE_INVALID,     /* not JSON that json_loadb would accept */
    SK_JSON_DECODE_TOO_DEEP,    /* over SK_JSON_DECODE_MAX_DEPTH; jansson allows 2048 */
    SK_JSON_DECODE_UNSUPPORTED, /* input or flags this decoder leaves to jansson */
} sk_json_decode_code;

typedef struct sk_json_decode_error {
    sk_json_decode_code code;
    size_t position; /* byte offset the decoder stopped at */
    const char *reason; /* static text */
} sk_json_decode_error;

/* Decodes a JSON object or array (as json_loadb without JSON_DECODE_ANY).
 * flags may be 0 or JSON_REJECT_DUPLICATES, with jansson's meaning; others
 * are UNSUPPORTED. Returns a new reference or NULL with err filled in.
 * Everything it accepts, json_loadb accepts as an equal value; what it
 * refuses as INVALID, json_loadb refuses too (test/fuzz/fuzz_json.c). */
json_t *sk_json_decode(const char *buf, size_t len, size_t flags, sk_json_decode_error *err);

/* json_loadb's exact contract, values and error messages, on the fast path:
 * sk_json_decode first; whatever it refuses goes to json_loadb, so a refusal
 * carries jansson's own line, column and text (refusals are rare and cold). */
json_t *sk_json_loadb(const char *buf, size_t len, size_t flags, json_error_t *error);

#endif
