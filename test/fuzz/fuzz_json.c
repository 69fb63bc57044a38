/* The fast JSON decoder against jansson's json_loadb on the same bytes, with
 * the server's flags (duplicates refused) and without (last key wins):
 *  - what sk_json_decode accepts, json_loadb accepts, as the same value
 *    (types, key order, numbers), and sk_json_write writes it as jansson
 *    dumps it;
 *  - what it refuses as invalid, json_loadb refuses; too deep means deeper
 *    than its limit or refused; unsupported only for input with a NUL;
 *  - sk_json_loadb gives json_loadb's verdict, value and error exactly.
 * Each input runs in a request arena, as in the server. */
#include <stdlib.h>
#include <string.h>

#include "spacekeeper/arena.h"
#include "spacekeeper/buf.h"
#include "spacekeeper/json.h"
#include "spacekeeper/json_decode.h"

static size_t depth(const json_t *v)
{
    size_t deepest = 0, i;
    const char *k;
    json_t *c;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, c) {
            size_t n = depth(c);
            deepest = n > deepest ? n : deepest;
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, c) {
            size_t n = depth(c);
            deepest = n > deepest ? n : deepest;
        }
    } else {
        return 0;
    }
    return deepest + 1;
}

static int append_chunk(const char *data, size_t size, void *ud)
{
    sk_buf_append(ud, data, size);
    return 0;
}

/* Same value, and the same compact text: sk_json_dumps of ours (our writer)
 * against jansson's own dump of its own. */
static int same(const json_t *ours, const json_t *theirs)
{
    sk_buf want = SK_BUF_INIT;
    char *got = sk_json_dumps(ours, JSON_COMPACT);
    int eq = json_dump_callback(theirs, append_chunk, &want, JSON_COMPACT) == 0 && got &&
             strcmp(got, want.data ? want.data : "") == 0 && json_equal(ours, theirs);
    free(got);
    sk_buf_free(&want);
    return eq;
}

static void check(const char *buf, size_t size, size_t flags)
{
    json_error_t want_err, got_err;
    json_t *want = json_loadb(buf, size, flags, &want_err);

    sk_json_decode_error e;
    json_t *got = sk_json_decode(buf, size, flags, &e);
    if (got) {
        if (!want || !same(got, want))
            abort();
    } else if (e.code == SK_JSON_DECODE_INVALID) {
        if (want)
            abort();
    } else if (e.code == SK_JSON_DECODE_TOO_DEEP) {
        if (want && depth(want) <= SK_JSON_DECODE_MAX_DEPTH)
            abort();
    } else if (e.code != SK_JSON_DECODE_UNSUPPORTED || !memchr(buf, '\0', size)) {
        abort();
    }
    json_decref(got);

    json_t *via = sk_json_loadb(buf, size, flags, &got_err);
    if (!via != !want)
        abort();
    if (via && !same(via, want))
        abort();
    if (!via && (strcmp(got_err.text, want_err.text) != 0 || got_err.line != want_err.line ||
                 got_err.column != want_err.column || got_err.position != want_err.position))
        abort();
    json_decref(via);
    json_decref(want);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static int installed;
    if (!installed) {
        sk_arena_install();
        installed = 1;
    }
    sk_arena_begin();
    check((const char *)data, size, JSON_REJECT_DUPLICATES);
    check((const char *)data, size, 0);
    sk_arena_end();
    return 0;
}
