/* AdmissionReview admission.k8s.io/v1: decoding requests into the policy
 * engine's terms and encoding its decision as the response the API server
 * expects. */
#ifndef SPACEKEEPER_ADMISSION_H
#define SPACEKEEPER_ADMISSION_H

#include <stddef.h>

#include <jansson.h>

#include "spacekeeper/err.h"
#include "spacekeeper/policy.h"

#define SK_ADMISSION_API_VERSION "admission.k8s.io/v1"

/* Deeper JSON than this is refused before it reaches the engine. */
#define SK_ADMISSION_MAX_DEPTH 64

typedef struct sk_review {
    json_t *root;             /* owned: the whole AdmissionReview */
    const char *uid;          /* borrowed from root */
    const char *sub_resource; /* "" unless e.g. "status" */
    int dry_run;
    sk_request req;           /* borrowed pointers into root */
    const char **groups;      /* owned array of borrowed strings, NULL-terminated */
} sk_review;

typedef enum sk_review_status {
    SK_REVIEW_OK = 0,
    SK_REVIEW_BAD_JSON = -1,   /* not JSON at all */
    SK_REVIEW_BAD_REVIEW = -2, /* JSON, but not an answerable AdmissionReview */
} sk_review_status;

/* Parses a request body. On failure err says what is wrong and where. */
sk_review_status sk_review_parse(const char *body, size_t len, sk_review *out, sk_err *err);

/* The same for a document already parsed (`spacekeeper check`); takes a
 * reference to root. */
sk_review_status sk_review_from_json(json_t *root, sk_review *out, sk_err *err);

void sk_review_free(sk_review *r);

/* Is this a document the engine should look at? Subresource writes
 * (status) and CONNECT pass untouched. */
int sk_review_needs_policy(const sk_review *r);

enum {
    SK_RESPOND_PATCH = 1,   /* carry the JSON Patch (mutating webhook) */
    SK_RESPOND_VERDICT = 2, /* carry allowed/denied (validating webhook) */
};

/* The AdmissionReview response as compact JSON text (malloc'd): uid,
 * allowed, the patch base64-encoded, the denial's status, warnings. d may
 * be NULL to allow unchanged. NULL only for text that is not UTF-8. */
char *sk_review_render(const sk_review *r, const sk_decision *d, int what);

/* The same response as a JSON value, for callers that inspect it. */
json_t *sk_review_response(const sk_review *r, const sk_decision *d, int what);

#endif
