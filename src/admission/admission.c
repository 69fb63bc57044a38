#include "spacekeeper/admission.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "spacekeeper/buf.h"
#include "spacekeeper/json.h"
#include "spacekeeper/json_decode.h"
#include "spacekeeper/violation.h"

/* Depth of a parsed value, stopping as soon as it passes `limit`. */
static int deeper_than(const json_t *v, int limit)
{
    if (limit < 0)
        return 1;
    const char *k;
    json_t *c;
    size_t i;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, c) if (deeper_than(c, limit - 1)) return 1;
    } else if (json_is_array(v)) {
        json_array_foreach((json_t *)v, i, c) if (deeper_than(c, limit - 1)) return 1;
    }
    return 0;
}

static sk_review_status review_from_json(json_t *root, sk_review *out, sk_err *err,
                                         int depth_checked);

/* sk_json_loadb, unrolled: what the fast decoder accepts is known to be
 * shallow enough, so only jansson's results need the depth walk. */
_Static_assert(SK_JSON_DECODE_MAX_DEPTH <= SK_ADMISSION_MAX_DEPTH,
               "the decoder nests no deeper than a review may");

sk_review_status sk_review_parse(const char *body, size_t len, sk_review *out, sk_err *err)
{
    memset(out, 0, sizeof *out);
    json_t *root = sk_json_decode(body, len, JSON_REJECT_DUPLICATES, NULL);
    int decoded = root != NULL;
    json_error_t je;
    if (!root && !(root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je))) {
        sk_err_set(err, "malformed JSON at line %d, column %d: %s", je.line, je.column, je.text);
        return SK_REVIEW_BAD_JSON;
    }
    sk_review_status st = review_from_json(root, out, err, decoded);
    json_decref(root);
    return st;
}

sk_review_status sk_review_from_json(json_t *root, sk_review *out, sk_err *err)
{
    return review_from_json(root, out, err, 0);
}

static sk_review_status review_from_json(json_t *root, sk_review *out, sk_err *err,
                                         int depth_checked)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(root)) {
        sk_err_set(err, "an AdmissionReview must be a JSON object, not %s", sk_json_type_name(root));
        return SK_REVIEW_BAD_REVIEW;
    }
    if (!depth_checked && deeper_than(root, SK_ADMISSION_MAX_DEPTH)) {
        sk_err_set(err, "AdmissionReview is nested deeper than %d levels", SK_ADMISSION_MAX_DEPTH);
        return SK_REVIEW_BAD_REVIEW;
    }
    const char *api = sk_json_str(root, "apiVersion", NULL);
    const char *kind = sk_json_str(root, "kind", NULL);
    if (!kind || strcmp(kind, "AdmissionReview") != 0) {
        sk_err_set(err, "kind must be \"AdmissionReview\", not \"%s\"", kind ? kind : "");
        return SK_REVIEW_BAD_REVIEW;
    }
    if (!api || strcmp(api, SK_ADMISSION_API_VERSION) != 0) {
        sk_err_set(err,
                   "apiVersion \"%s\" is not supported: set admissionReviewVersions: [v1] in the "
                   "webhook configuration",
                   api ? api : "");
        return SK_REVIEW_BAD_REVIEW;
    }
    json_t *rq = json_object_get(root, "request");
    if (!json_is_object(rq)) {
        sk_err_set(err, "request is missing or not an object");
        return SK_REVIEW_BAD_REVIEW;
    }
    const char *uid = sk_json_str(rq, "uid", NULL);
    if (!uid || !*uid) {
        sk_err_set(err, "request.uid is missing or not a string");
        return SK_REVIEW_BAD_REVIEW;
    }
    const char *op = sk_json_str(rq, "operation", NULL);
    sk_operation operation;
    if (sk_operation_parse(op, &operation) < 0) {
        sk_err_set(err, "request.operation \"%s\" is not one of CREATE, UPDATE, DELETE, CONNECT",
                   op ? op : "");
        return SK_REVIEW_BAD_REVIEW;
    }
    json_t *groups = sk_json_get(rq, "userInfo", "groups", NULL);
    size_t ng = json_is_array(groups) ? json_array_size(groups) : 0;

    out->root = json_incref(root);
    out->uid = uid;
    out->sub_resource = sk_json_str(rq, "subResource", NULL);
    if (!out->sub_resource)
        out->sub_resource = "";
    out->dry_run = json_is_true(json_object_get(rq, "dryRun"));
    out->groups = calloc(ng + 1, sizeof *out->groups);
    if (!out->groups)
        abort();
    size_t n = 0;
    for (size_t i = 0; i < ng; i++) {
        const char *g = json_string_value(json_array_get(groups, i));
        if (g)
            out->groups[n++] = g;
    }
    json_t *obj = json_object_get(rq, "object"), *old = json_object_get(rq, "oldObject");
    out->req = (sk_request){
        .op = operation,
        .object = json_is_null(obj) ? NULL : obj,
        .old_object = json_is_null(old) ? NULL : old,
        .namespace = sk_json_str(rq, "namespace", NULL),
        .user = sk_json_str(rq, "userInfo", "username", NULL),
        .groups = out->groups,
    };
    return SK_REVIEW_OK;
}

void sk_review_free(sk_review *r)
{
    json_decref(r->root);
    free(r->groups);
    memset(r, 0, sizeof *r);
}

int sk_review_needs_policy(const sk_review *r)
{
    return r->req.op != SK_OP_CONNECT && r->sub_resource[0] == '\0';
}

/* Base64 of v's compact JSON, appended to out: the patch field. */
static int append_base64_json(sk_buf *out, const json_t *v)
{
    sk_buf raw = SK_BUF_INIT;
    int rc = sk_json_write(&raw, v);
    if (rc == 0 && raw.len <= INT_MAX) {
        char *dst = sk_buf_grow(out, 4 * ((raw.len + 2) / 3));
        EVP_EncodeBlock((unsigned char *)dst, (const unsigned char *)raw.data, (int)raw.len);
    }
    sk_buf_free(&raw);
    return rc;
}

/* Written straight to text: the only JSON values are the patch, the
 * warnings and the strings, and the key order is the one API servers and
 * tests have always seen. */
char *sk_review_render(const sk_review *r, const sk_decision *d, int what)
{
    int denied = d && (what & SK_RESPOND_VERDICT) && !d->allowed;
    sk_buf b = SK_BUF_INIT;
    sk_buf_puts(&b, "{\"apiVersion\":\"" SK_ADMISSION_API_VERSION "\",\"kind\":\"AdmissionReview\","
                    "\"response\":{\"uid\":");
    int rc = sk_json_write_string(&b, r->uid, strlen(r->uid));
    sk_buf_puts(&b, denied ? ",\"allowed\":false" : ",\"allowed\":true");
    if (d && (what & SK_RESPOND_PATCH) && json_array_size(d->patch) > 0) {
        sk_buf_puts(&b, ",\"patchType\":\"JSONPatch\",\"patch\":\"");
        rc |= append_base64_json(&b, d->patch);
        sk_buf_puts(&b, "\"");
    }
    if (denied) {
        char *msg = sk_violation_summary(d->violations);
        sk_buf_puts(&b, ",\"status\":{\"code\":403,\"reason\":\"Forbidden\",\"message\":");
        rc |= sk_json_write_string(&b, msg, strlen(msg));
        sk_buf_puts(&b, "}");
        free(msg);
    }
    if (d && json_array_size(d->warnings) > 0) {
        sk_buf_puts(&b, ",\"warnings\":");
        rc |= sk_json_write(&b, d->warnings);
    }
    sk_buf_puts(&b, "}}");
    if (rc) {
        sk_buf_free(&b);
        return NULL;
    }
    return sk_buf_steal(&b);
}

json_t *sk_review_response(const sk_review *r, const sk_decision *d, int what)
{
    char *text = sk_review_render(r, d, what);
    json_t *v = text ? sk_json_decode(text, strlen(text), 0, NULL) : NULL;
    free(text);
    return v;
}
